"""The built-in process templates, registered via the ``cardcrm`` entry points like any plugin."""

from pathlib import Path

#: The templates' catalogues (``cardcrm_translation_directories``): one folder for the four.
TRANSLATIONS = Path(__file__).parent / "translations"
