import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { EditorLanguageRegistry, IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import { INotebookTracker, Notebook, NotebookPanel } from '@jupyterlab/notebook';
import { clike } from '@codemirror/legacy-modes/mode/clike';
import { previewPlugin } from './preview';

/** The language of each `%%wasm_<language>` cell magic, by its name in JupyterLab's language registry. */
const MAGIC_LANGUAGES: Record<string, string> = {
  rust: 'Rust',
  c: 'C',
  cpp: 'C++',
  zig: 'Zig',
  go: 'Go',
  assemblyscript: 'TypeScript',
  wat: 'WebAssembly',
  python: 'Python',
  js: 'Javascript'
};

// IPython drops blank lines and indentation before a cell magic, so they may come first here too.
const CELL_MAGIC = /^\s*%%wasm_(\w+)(?!\S)/;

function words(text: string): Record<string, boolean> {
  return Object.fromEntries(text.split(' ').map(word => [word, true]));
}

/** Zig, which CodeMirror has no mode for, as a C-like language: its keywords, types, `@builtins`
 * and `\\` multiline strings. */
const zig = clike({
  name: 'zig',
  keywords: words(
    'addrspace align allowzero and anyframe anytype asm async await break callconv catch comptime ' +
      'const continue defer else enum errdefer error export extern fn for if inline linksection ' +
      'noalias noinline nosuspend opaque or orelse packed pub resume return struct suspend switch ' +
      'test threadlocal try union unreachable usingnamespace var volatile while'
  ),
  types: words(
    'i8 u8 i16 u16 i32 u32 i64 u64 i128 u128 isize usize f16 f32 f64 f80 f128 bool void type ' +
      'anyerror anyopaque noreturn comptime_int comptime_float c_char c_short c_ushort c_int c_uint ' +
      'c_long c_ulong c_longlong c_ulonglong c_longdouble'
  ),
  atoms: words('true false null undefined'),
  blockKeywords: words('if else while for switch fn struct enum union'),
  hooks: {
    '@': (stream: { eatWhile(match: RegExp): boolean }) => (stream.eatWhile(/\w/) ? 'builtin' : false),
    '\\': (stream: { eat(match: string): string | undefined; skipToEnd(): void }) => {
      if (!stream.eat('\\')) {
        return false;
      }
      stream.skipToEnd();
      return 'string';
    }
  }
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'wagi-nb-labextension:cell-magic-languages',
  description: 'Highlights %%wasm_<language> cells in their language.',
  autoStart: true,
  requires: [INotebookTracker, IEditorLanguageRegistry],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker, languages: IEditorLanguageRegistry) => {
    if (!languages.findByName('Zig')) {
      languages.addLanguage({
        name: 'Zig',
        mime: 'text/x-zig',
        extensions: ['zig'],
        load: async () => EditorLanguageRegistry.legacy(zig)
      });
    }

    /** The MIME type a cell's source asks for with its magic, or null if it has no `%%wasm_` magic. */
    function magicMimeType(source: string): string | null {
      const language = MAGIC_LANGUAGES[CELL_MAGIC.exec(source)?.[1] ?? ''];
      if (!language) {
        return null;
      }
      const mime = languages.findByName(language)?.mime ?? 'text/plain';
      return typeof mime === 'string' ? mime : mime[0];
    }

    const followed = new WeakSet<ICellModel>();

    function follow(model: ICodeCellModel, notebook: Notebook): void {
      if (followed.has(model)) {
        return;
      }
      followed.add(model);
      const wanted = () => magicMimeType(model.sharedModel.getSource()) ?? notebook.codeMimetype;
      const update = async () => {
        const current = model.mimeType;
        if (wanted() === current) {
          return;
        }
        // The editor applies a MIME type's language once it has loaded it, so two quick changes could
        // end in the first one's language. With both languages loaded first, they apply in order.
        await Promise.all([languages.getLanguage(current), languages.getLanguage(wanted())]);
        if (!model.isDisposed && model.mimeType !== wanted()) {
          model.mimeType = wanted();
        }
      };
      model.sharedModel.changed.connect((_, change) => {
        if (change.sourceChange) {
          void update();
        }
      });
      // The notebook resets every code cell to the kernel's language when that changes.
      model.mimeTypeChanged.connect(() => void update());
      void update();
    }

    function followCells(notebook: Notebook, cells: Iterable<ICellModel>): void {
      for (const model of cells) {
        if (model.type === 'code') {
          follow(model as ICodeCellModel, notebook);
        }
      }
    }

    function watch(panel: NotebookPanel): void {
      const notebook = panel.content;
      const watchModel = () => {
        const model = notebook.model;
        if (!model) {
          return;
        }
        followCells(notebook, model.cells);
        model.cells.changed.connect((_, change) => {
          if (change.type === 'add' || change.type === 'set') {
            followCells(notebook, change.newValues);
          }
        });
      };
      notebook.modelChanged.connect(watchModel);
      watchModel();
    }

    tracker.forEach(watch);
    tracker.widgetAdded.connect((_, panel) => watch(panel));
  }
};

export default [plugin, previewPlugin];
