"""The live route preview: a request form, a Send button and the rendered response.

A thin shell over :class:`~wagi_nb.wagi.preview.RequestPreview`: the widget
copies its fields into the preview, and shows whatever the preview last got,
including after a re-run of the route's cell re-sends it.
"""
from __future__ import annotations

import html
import time
from typing import Callable, Optional

import ipywidgets as widgets

from ..display import ResponseView
from ..wagi.preview import RequestPreview

#: A click this soon after the path box's own send (its blur) is that same send.
CLICK_AFTER_ENTER = 0.5
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
            self.output.value = f"<pre>{html.escape(preview.error)}</pre>"
            return
        response = preview.response
        self.status.value = (f"{response.status} {response.reason} · send #{preview.sends} · "
                             f"{response.duration * 1000:.2f} ms")
        self.output.value = ResponseView(response, routes=preview.app.routes(), link_base=self.link_base(),
                                         in_widget=True)._repr_html_()

    def _repr_mimebundle_(self, **kwargs):
        # What a notebook shows where the widget cannot be drawn (saved, then reopened without the
        # kernel, or untrusted): the response as text, not the widget's repr.
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = self.text_fallback()
        return bundle

    def text_fallback(self) -> str:
        preview = self.preview
        head = (f"Live preview of {preview.method} {preview.target} (route {preview.route}): re-run the cell "
                "to use it again; it needs the kernel.")
        if preview.response is None:
            return f"{head}\n{preview.error}"
        return f"{head}\n{ResponseView(preview.response, routes=preview.app.routes())!r}"

    def close(self):
        self.preview.unwatch()
        super().close()
