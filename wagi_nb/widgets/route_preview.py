"""The live route preview: a request form, a Send button and the rendered response.

A thin shell over :class:`~wagi_nb.wagi.preview.RequestPreview`: the widget
copies its fields into the preview, and shows whatever the preview last got,
including after a re-run of the route's cell re-sends it.
"""
from __future__ import annotations

import html

import ipywidgets as widgets

from ..display import ResponseView
from ..wagi.preview import RequestPreview

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class RoutePreviewWidget(widgets.VBox):
    def __init__(self, preview: RequestPreview, **kwargs):
        self.preview = preview
        self.method = widgets.Dropdown(options=METHODS, value=preview.method, description="Method",
                                       layout=widgets.Layout(width="180px"))
        self.target = widgets.Text(value=preview.target, description="Path",
                                   placeholder="/path?query", layout=widgets.Layout(width="60%"))
        self.headers = widgets.Textarea(value=preview.headers, description="Headers",
                                        placeholder="Name: value (one per line)",
                                        layout=widgets.Layout(width="90%", height="60px"))
        self.body = widgets.Textarea(value=preview.body, description="Body",
                                     layout=widgets.Layout(width="90%", height="60px"))
        self.send_button = widgets.Button(description="Send", button_style="primary", icon="paper-plane")
        self.status = widgets.Label()
        self.output = widgets.HTML()
        self.send_button.on_click(lambda _button: self.send())
        preview.on_response.append(self._show)
        preview.watch()
        super().__init__([widgets.HBox([self.method, self.target, self.send_button]), self.headers,
                          self.body, self.status, self.output], **kwargs)
        if preview.response is None:
            self.send()
        else:
            self._show(preview)

    def send(self) -> None:
        self.preview.method = self.method.value
        self.preview.target = self.target.value
        self.preview.headers = self.headers.value
        self.preview.body = self.body.value
        self.preview.send()

    def _show(self, preview: RequestPreview) -> None:
        if preview.superseded:
            self.status.value = (f"This preview no longer updates: a newer preview of "
                                 f"{preview.key[1]} {preview.key[2]} took its place.")
            return
        if preview.response is None:
            self.status.value = "Request not sent"
            self.output.value = f"<pre>{html.escape(preview.error)}</pre>"
            return
        response = preview.response
        self.status.value = (f"{response.status} {response.reason} · send #{preview.sends} · "
                             f"{response.duration * 1000:.2f} ms")
        self.output.value = ResponseView(response, routes=preview.app.routes())._repr_html_()

    def close(self):
        self.preview.unwatch()
        super().close()
