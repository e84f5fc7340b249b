"""MkDocs hook: `::: facelm-options COMMAND` in a page becomes that command's usage line and option
table, generated from its click definition (what --help shows: earlier spellings stay hidden), so
a command and its page cannot disagree. tests/test_docs.py also holds the prose to the options."""
from __future__ import annotations

import html
import re

import click

DIRECTIVE = re.compile(r"^::: facelm-options (\w+)\s*$", re.M)


def command(name: str) -> click.Command:
    from facelm.cli import main

    if name not in main.commands:
        raise ValueError(f"::: facelm-options {name}: facelm has no command {name!r}")
    return main.commands[name]


def cell(text: str) -> str:
    return html.escape(" ".join(text.split())).replace("|", "\\|")


def options_markdown(name: str) -> str:
    """The usage line and one table row per option (its spellings, then its help and default)."""
    cmd = command(name)
    ctx = click.Context(cmd, info_name=f"facelm {name}")
    usage = " ".join([ctx.command_path, *cmd.collect_usage_pieces(ctx)])
    rows = ["| option | meaning |", "|---|---|"]
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Argument):  # in the usage line; the page's prose says what it is
            continue
        record = param.get_help_record(ctx)
        if record is not None:
            rows.append(f"| `{cell(record[0])}` | {cell(record[1]) or ' '} |")
    return "\n".join([f"    {usage}", "", *rows, ""])


def on_page_markdown(markdown: str, page, config, files) -> str:  # MkDocs' signature
    return DIRECTIVE.sub(lambda m: options_markdown(m.group(1)), markdown)
