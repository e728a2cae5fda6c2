"""The live route preview: a request form, a Send button and the rendered response.

A thin shell over :class:`~wagi_nb.wagi.preview.RequestPreview`: the widget
copies its fields into the preview, and shows whatever the preview last got,
including after a re-run of the route's cell re-sends it.

Its output in the notebook also holds the last response without the widget (as HTML and as text),
refreshed after every response, for when the widget cannot be drawn: a notebook reopened on
another kernel (wagi_nb's JupyterLab extension shows it instead of "model not found"), untrusted,
or read elsewhere (GitHub, nbviewer).
"""
from __future__ import annotations

import html
import time
from typing import Callable, Optional

import ipywidgets as widgets
from IPython.display import display

from ..display import ResponseView
from ..display.text import pre
from ..wagi.preview import RequestPreview

#: A click this soon after the path box's own send (its blur) is that same send.
CLICK_AFTER_ENTER = 0.5
#: The bundle's key for wagi_nb's JupyterLab extension: draw the widget, or the last response.
PREVIEW_MIME = "application/vnd.wagi-nb.route-preview+json"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class RoutePreviewWidget(widgets.VBox):
    """``link_base``: called at each render for where the page's relative links lead (or None)."""

    def __init__(self, preview: RequestPreview, link_base: Optional[Callable[[], Optional[str]]] = None,
                 **kwargs):
        self.preview = preview
        self.link_base = link_base or (lambda: None)
        self.method = widgets.Dropdown(options=METHODS, value=preview.method, description="Method",
                                       layout=widgets.Layout(width="180px"))
        # Not continuous: the value arrives on Enter (or on leaving the box), and Enter sends.
        self.target = widgets.Text(value=preview.target, description="Path", continuous_update=False,
                                   placeholder="/path?query", layout=widgets.Layout(width="60%"))
        self.headers = widgets.Textarea(value=preview.headers, description="Headers",
                                        placeholder="Name: value (one per line)",
                                        layout=widgets.Layout(width="90%", height="60px"))
        self.body = widgets.Textarea(value=preview.body, description="Body",
                                     layout=widgets.Layout(width="90%", height="60px"))
        self.send_button = widgets.Button(description="Send", button_style="primary", icon="paper-plane")
        self.status = widgets.Label()
        self.output = widgets.HTML()
        self.send_button.on_click(self._clicked)
        self._entered: tuple = (0.0, None)
        self._shown = None  # the display handle of its output, once displayed
        self.target.observe(self._target_entered, names="value")
        preview.on_response.append(self._show)
        preview.watch()
        super().__init__([widgets.HBox([self.method, self.target, self.send_button]), self.headers,
                          self.body, self.status, self.output], **kwargs)
        if preview.response is None:
            self.send()
        else:
            self._show(preview)

    def _form(self) -> tuple:
        return (self.method.value, self.target.value, self.headers.value, self.body.value)

    def _target_entered(self, change) -> None:
        if change["new"] != self.preview.target:
            self._entered = (time.monotonic(), self._form())
            self.send()

    def _clicked(self, _button) -> None:
        # A click on Send first takes the focus from an edited path box, which has just sent this
        # very form: that click is not a second request.
        when, form = self._entered
        if time.monotonic() - when > CLICK_AFTER_ENTER or form != self._form():
            self.send()

    def send(self) -> None:
        self.preview.method = self.method.value
        self.preview.target = self.target.value
        self.preview.headers = self.headers.value
        self.preview.body = self.body.value
        self.preview.send()

    def _show(self, preview: RequestPreview) -> None:
        if preview.superseded:
            made_by = "this cell" if preview.key[0] == "cell" else f"route {preview.route}"
            self.status.value = f"This preview no longer updates: a newer preview made by {made_by} took its place."
            return
        if preview.response is None:
            self.status.value = "Request not sent"
            self.output.value = pre(preview.error)
            return
        response = preview.response
        self.status.value = (f"{response.status} {response.reason} · send #{preview.sends} · "
                             f"{response.duration * 1000:.2f} ms")
        self.output.value = ResponseView(response, routes=preview.app.module_routes(), link_base=self.link_base(),
                                         in_widget=True)._repr_html_()
        if self._shown is not None:  # the saved output holds the last response, not the first
            self._shown.update(self._repr_mimebundle_(), raw=True)

    def _ipython_display_(self):
        # Displayed with an id (a cell's result cannot be updated), so each response refreshes it.
        bundle = self._repr_mimebundle_()
        if bundle is not None:
            self._shown = display(bundle, raw=True, display_id=True)

    def _repr_mimebundle_(self, **kwargs):
        # What a notebook shows where the widget cannot be drawn (saved, then reopened on another
        # kernel, or untrusted): the last response, not the widget's repr.
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = self.text_fallback()
            bundle["text/html"] = self.html_fallback()
            bundle[PREVIEW_MIME] = {"model_id": self.model_id}
        return bundle

    def _head(self) -> str:
        preview = self.preview
        return (f"Live preview of {preview.method} {preview.target} (route {preview.route}): re-run the cell "
                "to use it again; it needs the kernel.")

    def html_fallback(self) -> str:
        preview = self.preview
        if preview.response is None:
            return f"<div>{html.escape(self._head())}</div>{pre(preview.error)}"
        return ResponseView(preview.response, routes=preview.app.module_routes(), title=self._head(),
                            link_base=self.link_base())._repr_html_()

    def text_fallback(self) -> str:
        preview = self.preview
        head = self._head()
        if preview.response is None:
            return f"{head}\n{preview.error}"
        return f"{head}\n{ResponseView(preview.response, routes=preview.app.module_routes())!r}"

    def close(self):
        self.preview.unwatch()
        super().close()
