"""Maps the repository's folders onto the installed package names.

`services/` is installed as the `cardcrm` package and `plugins/` as `cardcrm_plugins`, so the
tree reads the way DESIGN.md lays it out while nothing generic like `services` lands in
site-packages. Everything else about the distribution is in pyproject.toml.
"""

from setuptools import find_packages, setup

ROOTS = {"cardcrm": "services", "cardcrm_plugins": "plugins"}


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
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
