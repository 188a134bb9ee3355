"""Maps the repository's folders onto the installed package names.

`services/` is installed as the `cardcrm` package and `plugins/` as `cardcrm_plugins`, so the
tree reads the way DESIGN.md lays it out while nothing generic like `services` lands in
site-packages. Everything else about the distribution is in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

ROOTS = {"cardcrm": "services", "cardcrm_plugins": "plugins"}


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        # Namespace packages too: the folders of migrations, templates and static files hold
        # no __init__.py, and setuptools warns (pages of it) about every folder it was not told of.
        subpackages = find_namespace_packages(folder, exclude=["*__pycache__*"])
        found += [f"{name}.{sub}" for sub in subpackages]
    return found


class BuildWithCatalogues(build_py):
    """Compile the message catalogues (``.po`` to ``.mo``) into what gets installed."""

    def run(self) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        super().run()
        for name, folder in ROOTS.items():
            for po_path in Path(folder).glob("**/translations/*/LC_MESSAGES/*.po"):
                target = Path(self.build_lib) / name / po_path.relative_to(folder)
                target.parent.mkdir(parents=True, exist_ok=True)
                with po_path.open("rb") as po_file:
                    catalogue = read_po(po_file, locale=po_path.parent.parent.name)
                with target.with_suffix(".mo").open("wb") as mo_file:
                    write_mo(mo_file, catalogue)


setup(
    cmdclass={"build_py": BuildWithCatalogues},
    packages=packages(),
    package_dir=ROOTS,
    package_data={
        "": ["*.html", "*.css", "*.js", "*.ini", "*.mako", "*.svg", "*.txt", "*.po", "*.mo"],
        # Not packages, but needed at run time: each service's migrations and the web UI.
        "cardcrm.core": ["migrations/versions/*.py", "web/templates/**/*", "web/static/*"],
        "cardcrm.calendar_sync": ["migrations/versions/*.py"],
        "cardcrm.notifications": ["migrations/versions/*.py"],
    },
    include_package_data=True,
)
