"""Package list for setuptools, derived from the folders (pyproject.toml holds the rest).

The card's top-level folders install under one import root: `schemas/` is
`touchline.schemas`, `streams/` is `touchline.streams`, and so on. setuptools' `find` in
pyproject.toml names packages after their folder and cannot add that prefix, so the list is
found here: every package under each folder, so a new subpackage is in the wheel without an
edit. `.ci/check_wheel.sh` builds the wheel and fails if one is missing.
"""

from setuptools import find_packages, setup

#: import name -> folder
ROOTS = {
    "touchline": "touchline",
    "touchline.schemas": "schemas",
    "touchline.streams": "streams",
    "touchline.sinks": "sinks",
    "touchline.dashboards": "dashboards",
}

packages = [f"{name}.{sub}" if sub else name
            for name, folder in ROOTS.items()
            for sub in ["", *find_packages(folder)]]
setup(packages=packages, package_dir=ROOTS)
