"""``%nndeploy`` and ``%%nndeploy``: run, list, status, cancel and history from a notebook cell.

Bad arguments print a usage line (never a traceback); server errors print the server's reason.
``%nndeploy run`` shows a progress widget and returns the :class:`~.client.Task`, so
``t = %nndeploy run Image_Edge_Detection`` works.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from .client import Client, Params, Task, TaskFailed
from .discovery import ServerNotFound
from .http import ApiError

USAGE = (
    "usage: %nndeploy run <path|name|id> [--param Node.key=value]... [--priority N] [--no-wait]\n"
    "       %%nndeploy run [--param Node.key=value]... [--priority N] [--no-wait]   (graph JSON in the cell)\n"
    "       %nndeploy list | status [task_id] | cancel <task_id> | history [N]"
)


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or "")


def _parser() -> _Parser:
    parser = _Parser(prog="%nndeploy", add_help=False)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, required=True)
    run = commands.add_parser("run", add_help=False)
    run.add_argument("target", nargs="?")
    run.add_argument("--param", action="append", default=[], metavar="Node.key=value")
    run.add_argument("--priority", type=int)
    run.add_argument("--no-wait", dest="wait", action="store_false")
    commands.add_parser("list", add_help=False)
    commands.add_parser("status", add_help=False).add_argument("task_id", nargs="?")
    commands.add_parser("cancel", add_help=False).add_argument("task_id")
    commands.add_parser("history", add_help=False).add_argument("limit", nargs="?", type=int, default=20)
    return parser


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as e:  # an unclosed quote
        raise UsageError(str(e)) from None


def parse_params(items: list[str]) -> Params:
    """``["Canny.low_threshold=50"]`` -> ``{"Canny": {"low_threshold": 50}}``; values are JSON, else text."""
    params: Params = {}
    for item in items:
        name, sep, raw = item.partition("=")
        node, dot, key = name.rpartition(".")
        if not sep or not dot or not node or not key:
            raise UsageError(f"--param {item!r}: expected Node.key=value")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params.setdefault(node, {})[key] = value
    return params


@magics_class
class NnDeployMagics(Magics):
    _client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client()
        return self._client

    @client.setter
    def client(self, client: Client) -> None:
        self._client = client

    @line_cell_magic
    def nndeploy(self, line: str, cell: str | None = None) -> Any:
        try:
            args = _parser().parse_args(_split(line))
            if cell is not None and args.command != "run":
                raise UsageError("only 'run' takes a cell (%%nndeploy run)")
            return getattr(self, f"_{args.command}")(args, cell)
        except UsageError as e:
            print(f"{e}\n{USAGE}" if str(e) else USAGE, file=sys.stderr)
        except (ApiError, LookupError, FileNotFoundError, ServerNotFound, ConnectionError) as e:
            print(f"nndeploy: {e}", file=sys.stderr)
        return None

    def _run(self, args: argparse.Namespace, cell: str | None) -> Task:
        from .widgets import TaskProgress

        if (cell is None) == (args.target is None):
            raise UsageError("give a workflow (path, name or id), or the graph JSON as the cell of %%nndeploy run")
        target: Any = args.target
        if cell is not None:
            try:
                target = json.loads(cell)
            except json.JSONDecodeError as e:
                raise UsageError(f"the cell is not graph JSON: {e}") from None
            if not isinstance(target, dict):
                raise UsageError(f"the cell must be a graph JSON object, not {type(target).__name__}")
        params = parse_params(args.param)
        task = self.client.run(target, params, args.priority, wait=False)
        progress = TaskProgress(task).show()
        if args.wait:
            try:
                task.wait()
            except TaskFailed:
                pass  # the widget shows the reason, in red
            except KeyboardInterrupt:
                print(f"stopped waiting; task {task.id} goes on (%nndeploy cancel {task.id} stops it)", file=sys.stderr)
            finally:
                progress.finish()
        return task

    def _list(self, args: argparse.Namespace, cell: str | None) -> None:
        workflows, templates = self.client.workflows(), self.client.templates()
        print(f"workflows ({len(workflows)}):")
        for item in workflows:
            print(f"  {item['id']}  {item.get('name_', '')}")
        print(f"templates ({len(templates)}):")
        for item in templates:
            print(f"  {item['id']}  {item.get('category_') or '-'}/{item.get('name_', '')}")

    def _status(self, args: argparse.Namespace, cell: str | None) -> None:
        from .widgets import progress_text

        if args.task_id:
            task = self.client.task(args.task_id)
            print(progress_text(task))
            for path in task.outputs:
                print(f"  output: {path}")
            return
        queue = self.client.tasks()
        for group in ("running", "dispatched", "pending"):
            items = queue.get(group) or []
            print(f"{group} ({len(items)}):")
            for item in items:
                print(f"  {_task_line(item)}")

    def _cancel(self, args: argparse.Namespace, cell: str | None) -> None:
        print(self.client.cancel(args.task_id) or f"cancel requested for {args.task_id}")

    def _history(self, args: argparse.Namespace, cell: str | None) -> None:
        items = self.client.history(args.limit)
        print(f"history ({len(items)}):")
        for item in items:
            print(f"  {_task_line(item)}")


def _task_line(item: dict[str, Any]) -> str:
    task_id = item.get("task_id") or item.get("id") or (item.get("task") or {}).get("id", "?")
    stamp = item.get("ts_finish") or item.get("ts_start") or item.get("ts_submit")
    when = datetime.datetime.fromtimestamp(stamp).strftime("%H:%M:%S") if isinstance(stamp, (int, float)) else ""
    name = item.get("name") or item.get("name_") or ""
    error = f"  {item['error']}" if item.get("error") else ""
    return f"{task_id}  {item.get('state', '?'):<11} {when}  {name}{error}".rstrip()
