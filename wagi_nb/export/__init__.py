"""From notebook to production: an app folder for Wagi (modules.toml) and Spin (spin.toml)."""
from .app_folder import ExportError, ExportReport, export_app
from .spin import check_manifest, component_id

__all__ = ["ExportError", "ExportReport", "export_app", "check_manifest", "component_id"]
