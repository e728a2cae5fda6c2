import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel } from '@lumino/widgets';

/** What wagi_nb's live route preview adds to its output: `{"model_id": ...}` of its widget. */
const PREVIEW_MIME = 'application/vnd.wagi-nb.route-preview+json';
const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
/** What ipywidgets' renderer writes where a widget's model is not in the kernel (any more). */
const NO_MODEL = /^Error displaying widget/;
/** Before ipywidgets' own renderer (rank -10), which would say "model not found" for a saved preview. */
const RANK = -20;

/** How long a preview's widget may take to appear before the saved response shows in its place. */
const PATIENCE_MS = 400;

/**
 * The live preview's output: its widget while the kernel has it; otherwise (the notebook reopened on
 * another kernel: ipywidgets then waits, "Loading widget...", or says "model not found") the last
 * response it showed, which the output holds as HTML. An update of the output (each response refreshes
 * the saved copy) leaves a live widget as it is, focus and all.
 */
class RoutePreviewRenderer extends Panel implements IRenderMime.IRenderer {
  private modelId: string | null = null;
  private live = false;
  private saved: IRenderMime.IRenderer | null = null;

  constructor(private registry: IRenderMimeRegistry) {
    super();
    this.addClass('wagi-nb-RoutePreview');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[PREVIEW_MIME] as { model_id?: string } | undefined;
    const modelId = data?.model_id ?? '';
    if (modelId === this.modelId) {
      // The same widget, its saved copy refreshed: the widget (drawn, or still coming) stays.
      if (!this.live && this.saved && !this.saved.isDisposed) {
        await this.saved.renderModel(model);
      }
      return;
    }
    this.modelId = modelId;
    this.live = false;
    while (this.widgets.length) {
      this.widgets[0].dispose();
    }
    const saved = this.registry.createRenderer(model.data['text/html'] !== undefined ? 'text/html' : 'text/plain');
    this.saved = saved;
    saved.hide();
    this.addWidget(saved);
    const rendered = saved.renderModel(model);
    if (!this.registry.getFactory(WIDGET_MIME)) {
      saved.show();
      return rendered;
    }
    const widget = this.registry.createRenderer(WIDGET_MIME) as IRenderMime.IRenderer & Panel;
    widget.hide();
    this.addWidget(widget);
    const settle = () => {
      if (this.live || widget.isDisposed) {
        return;
      }
      if (widget.widgets.length > 0) {
        // ipywidgets drew the view: the kernel has the widget.
        this.live = true;
        widget.show();
        saved.dispose();
        watcher.disconnect();
      } else if (NO_MODEL.test(widget.node.textContent ?? '')) {
        saved.show();
        watcher.disconnect();
      }
    };
    const watcher = new MutationObserver(settle);
    watcher.observe(widget.node, { childList: true, characterData: true, subtree: true });
    setTimeout(() => {
      if (!this.live && !saved.isDisposed) {
        saved.show();
      }
    }, PATIENCE_MS);
    await Promise.all([rendered, widget.renderModel(model)]);
    settle();
  }
}

/** Each notebook's renderers (ipywidgets adds its own to the same registry) get the preview's. */
export const previewPlugin: JupyterFrontEndPlugin<void> = {
  id: 'wagi-nb-labextension:route-preview',
  description: "Shows a saved live route preview's last response where its widget is gone.",
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const add = (panel: NotebookPanel) => {
      const registry = panel.content.rendermime;
      if (!registry.getFactory(PREVIEW_MIME)) {
        registry.addFactory(
          { safe: false, mimeTypes: [PREVIEW_MIME], createRenderer: () => new RoutePreviewRenderer(registry) },
          RANK
        );
      }
    };
    tracker.forEach(add);
    tracker.widgetAdded.connect((_, panel) => add(panel));
  }
};
