"""From notebook to production: an app folder for Wagi (modules.toml) and Spin (spin.toml)."""
from .app_folder import OPTIONS, ExportError, ExportReport, export_app, save_config
from .spin import check_manifest, component_id

__all__ = ["OPTIONS", "ExportError", "ExportReport", "export_app", "save_config", "check_manifest",
           "component_id"]
