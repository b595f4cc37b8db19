"""The step catalogue for product owners: every phrase the features may use, written to docs/steps.md.

    python -m tools.step_catalogue            # (re)writes docs/steps.md
    python -m tools.step_catalogue --check    # exits 1 if docs/steps.md is out of date
    python -m tools.step_catalogue --stdout   # prints it instead

For each phrase: its keyword, its parameters, a one-line meaning (the step function's docstring), an
example taken from the features, and the features that use it. Built from the same index as
``tools.check_features``, so it never disagrees with what the check accepts.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import defaultdict
from pathlib import Path

from tools.gherkin_index import ROOT, StepDef, load_step_definitions, parse_all, used_steps

OUTPUT = ROOT / "docs" / "steps.md"
KEYWORD_ORDER = {"given": 0, "when": 1, "then": 2, None: 3}

HEADER = """\
# Step catalogue

Every phrase a feature may use, by domain. Generated from `steps/` and `features/` by
`python -m tools.step_catalogue`: do not edit by hand (edit the step's docstring instead).

How to read a phrase:
- `{name}` is a value you choose: a first name (`Ana`), a number (`401`) or text. Text shown between quotes
  in the phrase (`"{group}"`) is written between quotes in the feature too.
- `her/his/their` means: write one of them; `(these words | those words)` means: write one of the
  choices; `[words]` means the words are optional.
- Pronouns (`she`, `he`, `they`) mean the person last named as the subject of a step (`Given Ana is a
  workspace user`, `When Ben saves ...`, `Then Ben sees ...`); naming someone elsewhere in a phrase (`Ben's
  history`, `claiming to be Ben`) does not change who they mean.
- `Step` phrases may follow any keyword (`Given`, `When` or `Then`).
- `Given`, `When`, `Then` matter: a phrase defined as a `When` is not found after `Given`.
  `And`/`But` take the keyword of the step above.

Before writing a new phrase, look for one here. After editing a feature, run
`python -m tools.check_features`: it names any phrase that does not exist and the closest ones that do.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _module_title(module: str) -> str:
    doc = (importlib.import_module(module).__doc__ or "").strip()
    first = doc.splitlines()[0].rstrip(".") if doc else ""
    return f"`{module}`: {first}" if first else f"`{module}`"


def render(defs: list[StepDef]) -> str:
    for parsed in parse_all():  # attach each written step to the definition that runs it
        for used in used_steps(parsed):
            matching = [d for d in defs if d.matches(used.step)]
            if len(matching) == 1:
                matching[0].uses.append(used)
    by_module: dict[str, list[StepDef]] = defaultdict(list)
    for definition in defs:
        by_module[definition.module].append(definition)
    lines = [HEADER]
    total = len(defs)
    unused = sum(not d.uses for d in defs)
    lines.append(f"{total} phrases in {len(by_module)} step modules; {unused} not used by any feature yet.\n")
    lines.append("## Domains\n")
    lines += [f"- [{module}](#{module.replace('.', '')})" for module in by_module]
    lines.append("")
    for module, module_defs in by_module.items():
        lines.append(f'<a id="{module.replace(".", "")}"></a>\n')
        lines.append(f"## {_module_title(module)}\n")
        lines.append("| Phrase | Meaning | Parameters | Example | Used in |")
        lines.append("|---|---|---|---|---|")
        for definition in sorted(module_defs, key=lambda d: (KEYWORD_ORDER[d.type], d.line)):
            phrase = f"**{definition.keyword}** `{definition.phrase}`"
            meaning = definition.doc or "*(no description yet: add a docstring to the step)*"
            params = ", ".join(f"`{name}` ({kind})" for name, kind in definition.params) or "none"
            example = "*not used yet*"
            if definition.uses:
                first = definition.uses[0]
                example = f"`{first.step.keyword} {first.step.name}`"
            features: dict[str, int] = defaultdict(int)
            for used in definition.uses:
                features[Path(used.path).name] += 1
            used_in = ", ".join(f"{name} ({count} steps)" for name, count in sorted(features.items())) or "-"
            cells = [phrase, meaning, params, example, used_in]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append(f"\n*Defined in `{module_defs[0].path}`.*\n")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/steps.md is out of date")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing docs/steps.md")
    args = parser.parse_args(argv)
    text = render(load_step_definitions())
    if args.stdout:
        sys.stdout.write(text)
        return 0
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
    if args.check:
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run python -m tools.step_catalogue")
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is up to date")
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}" + (" (unchanged)" if current == text else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
