"""Developer sessions: ``nox -s tests``, ``typecheck``, ``lint``, ``bench``, ``demo``."""

import nox

nox.options.sessions = ["tests", "typecheck", "lint"]
PACKAGES = ["sail_types", "saibench_core", "plugins/standard/saibench_standard", "plugins/vision/saibench_vision",
            "plugins/chemistry/saibench_chemistry", "plugins/tabular/saibench_tabular", "plugins/microscopy/saibench_microscopy",
            "plugins/earthquake/saibench_earthquake",
            "typing_tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """Install as the README says and run pytest."""
    session.install("-r", "requirements-dev.txt")
    session.run("pytest", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the language, the engine and the bundled plugins."""
    session.install("-r", "requirements-dev.txt")
    session.run("mypy", *PACKAGES)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over everything."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job in a scratch database."""
    session.install("-r", "requirements.txt")
    session.run("saibench", "run", "--db", f"{session.create_tmp()}/demo.sqlite")
