"""ipywidgets front ends over the layers below."""
from .route_preview import RoutePreviewWidget

__all__ = ["RoutePreviewWidget"]
