"""Maps the repository's folders onto the installed package names.

`services/` is installed as the `cardcrm` package and `plugins/` as `cardcrm_plugins`, so the
tree reads the way DESIGN.md lays it out while nothing generic like `services` lands in
site-packages. Everything else about the distribution is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

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


setup(
    packages=packages(),
    package_dir=ROOTS,
    package_data={
        "": ["*.html", "*.css", "*.js", "*.ini", "*.mako", "*.svg", "*.txt"],
        # Not packages, but needed at run time: each service's migrations and the web UI.
        "cardcrm.core": ["migrations/versions/*.py", "web/templates/**/*", "web/static/*"],
        "cardcrm.calendar_sync": ["migrations/versions/*.py"],
        "cardcrm.notifications": ["migrations/versions/*.py"],
    },
    include_package_data=True,
)
