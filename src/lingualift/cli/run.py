"""`lingualift run RECIPE` and `lingualift recipe show`: the whole loop from one YAML file."""

from __future__ import annotations

from typing import Optional

import typer

from lingualift.cli.common import console

recipe_app = typer.Typer(help="Recipes: show one resolved with its defaults.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run_recipe)
    app.add_typer(recipe_app, name="recipe")


def run_recipe(
    recipe: str = typer.Argument(..., help="Recipe YAML (recipes/demo.yaml, recipes/llamax.yaml, ...)."),
    from_: Optional[str] = typer.Option(None, "--from", help="Re-run this stage and all after it."),
    only: Optional[str] = typer.Option(None, help="Run only this stage, even if done (the ones before must be done)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the plan; run nothing."),
    variant: list[str] = typer.Option([], "--variant", help="NAME=KEY:VALUE,...: a variant overriding recipe keys "
                                                            "(dotted, e.g. sft.lr:1e-4), after the recipe's own "
                                                            "variants:; repeatable."),
) -> None:
    """Run a recipe's whole loop: vocab -> data -> cpt -> synth -> sft -> dpo -> grpo -> merge -> eval -> report.

    Each stage is cached by a fingerprint of its settings, inputs and the stages before it:
    a re-run with nothing changed does nothing, a changed SFT setting re-runs SFT and what
    follows, a killed run resumes. Ends with RUNS/NAME/report/report.html; with variants,
    each runs in RUNS/NAME/VARIANT (sharing the stages they have in common) and the run ends
    with RUNS/NAME/variants.html and .csv. Exit status 3 when a recipe gate is not met (the
    run and its report are complete), 2 on bad input.

    Example: lingualift run recipes/demo.yaml
    Example: lingualift run recipes/sambalingo.yaml --dry-run
    Example: lingualift run recipes/demo.yaml --variant lr-low=sft.lr:1e-4 --variant no-cpt=cpt.max_steps:1
    """
    from lingualift.cli.common import progress_bar
    from lingualift.run import recipe as recipes
    from lingualift.run import variants
    from lingualift.run.gates import GATE_FAILED
    from lingualift.run.runner import failed_gates

    loaded = recipes.load(recipe, say=console.print)
    expanded = variants.expand(loaded, variants.parse(variant))
    console.print(f"recipe {loaded.name}: {' -> '.join(loaded.stages())} in {loaded.folder()}"
                  + (f" ({len(expanded)} variants: {', '.join(r.variant for r in expanded)})" if loaded.variants
                     or variant else "") + (" (dry run)" if dry_run else ""))
    done = variants.run_all(expanded, start=from_, only=only, dry_run=dry_run, log=console.print, progress=progress_bar)
    failed = [(r.variant, gate) for r, steps in zip(expanded, done) for gate in failed_gates(steps)]
    for name, gate in failed:
        console.print(f"[bold red]gate failed{f' ({name})' if name else ''}: {gate['gate']}: {gate['measured']}[/]")
    if failed:
        raise typer.Exit(GATE_FAILED)


@recipe_app.command("show")
def recipe_show(path: str = typer.Argument(..., help="Recipe YAML.")) -> None:
    """Print a recipe with every default filled in (what `lingualift run` will do).

    Example: lingualift recipe show recipes/sambalingo.yaml
    """
    import yaml

    from lingualift.run import recipe as recipes

    loaded = recipes.load(path, say=lambda note: print(f"# {note}"))
    print(yaml.safe_dump(loaded.model_dump(mode="json"), sort_keys=False, allow_unicode=True), end="")
