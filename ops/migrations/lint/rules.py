"""Our own rules: Supabase security checks over the schema the migrations build.

They need the schema as a whole (RLS may be enabled two files later), so every
migration is read in order to build a small model of tables, policies, views
and functions; findings are reported only for the files being linted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.migrations.lint.findings import Finding

if TYPE_CHECKING:
    from ops.migrations.split import Statement


@dataclass(frozen=True)
class Rule:
    name: str
    severity: str
    fix: str


RLS_DISABLED = Rule(
    "rls-disabled-in-exposed-schema",
    "error",
    "alter table {table} enable row level security; then add policies",
)
RLS_NO_POLICY = Rule(
    "rls-enabled-no-policy",
    "warning",
    "create policy ... on {table} for the roles that need access (or comment why none may)",
)
VIEW_NOT_INVOKER = Rule(
    "view-bypasses-rls",
    "error",
    "create view {view} with (security_invoker = true) as ...",
)
DEFINER_SEARCH_PATH = Rule(
    "security-definer-search-path",
    "error",
    "add: set search_path = '' (and schema-qualify the names in the body)",
)
ANON_WRITE_TRUE = Rule(
    "anon-write-policy-true",
    "error",
    "restrict the policy to authenticated and check ownership, e.g. with check (user_id = (select auth.uid()))",
)
OUR_RULES = (RLS_DISABLED, RLS_NO_POLICY, VIEW_NOT_INVOKER, DEFINER_SEARCH_PATH, ANON_WRITE_TRUE)


@dataclass
class _Table:
    where: tuple[Path, int] | None = None
    rls: bool = False
    rls_where: tuple[Path, int] | None = None
    policies: set[str] = field(default_factory=set)


@dataclass
class _Function:
    where: tuple[Path, int]  # the statement that made it security definer (or created it)
    definer: bool = False
    fixed_path: bool = False


@dataclass
class _View:
    where: tuple[Path, int]
    invoker: bool
    reads: set[tuple[str, str]]


class SchemaModel:
    """Tables, RLS, policies and views as the migrations leave them."""

    def __init__(self, exposed_schemas: Iterable[str]) -> None:
        self.exposed = set(exposed_schemas)
        self.tables: dict[tuple[str, str], _Table] = {}
        self.views: dict[tuple[str, str], _View] = {}
        # (schema, name, identity argument types): a later ALTER FUNCTION may fix or break one.
        self.functions: dict[tuple[str, str, tuple[str, ...]], _Function] = {}
        self.findings: list[Finding] = []
        self._shown: dict[Path, str] = {}

    def check(self, files: list[tuple[Path, list[Statement]]], targets: dict[Path, str]) -> list[Finding]:
        from pglast import parse_sql
        from pglast.parser import ParseError

        self._shown = targets
        for path, statements in files:
            for statement in statements:
                try:
                    nodes = parse_sql(statement.text)
                except ParseError:
                    continue
                for raw in nodes:
                    self._visit(raw.stmt, (path, statement.line))
        self._final_checks()
        return self.findings

    # -- per statement ---------------------------------------------------------------
    def _visit(self, node: Any, where: tuple[Path, int]) -> None:
        kind = type(node).__name__
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(node, where)

    def _on_CreateStmt(self, node: Any, where: tuple[Path, int]) -> None:
        key = _relation(node.relation)
        if node.relation.relpersistence == "t":
            return
        if key not in self.tables or not node.if_not_exists:
            self.tables[key] = _Table(where=where)

    def _on_CreateTableAsStmt(self, node: Any, where: tuple[Path, int]) -> None:
        key = _relation(node.into.rel)
        if type(node.objtype).__name__ == "ObjectType" and node.objtype.name == "OBJECT_TABLE":
            self.tables[key] = _Table(where=where)

    def _on_DropStmt(self, node: Any, where: tuple[Path, int]) -> None:
        kind = node.removeType.name
        for obj in node.objects or ():
            names = tuple(part.sval for part in obj) if isinstance(obj, tuple) else ()
            if kind == "OBJECT_TABLE" and names:
                self.tables.pop(_qualified(names), None)
            elif kind == "OBJECT_VIEW" and names:
                self.views.pop(_qualified(names), None)
            elif kind == "OBJECT_POLICY" and len(names) >= 2:
                table = self.tables.get(_qualified(names[:-1]))
                if table is not None:
                    table.policies.discard(names[-1])
            elif kind in _ROUTINES:
                for key in self._functions_named(obj):
                    del self.functions[key]

    def _on_AlterTableStmt(self, node: Any, where: tuple[Path, int]) -> None:
        key = _relation(node.relation)
        for cmd in node.cmds or ():
            subtype = cmd.subtype.name
            if subtype in {"AT_EnableRowSecurity", "AT_DisableRowSecurity"}:
                table = self.tables.setdefault(key, _Table())
                table.rls = subtype == "AT_EnableRowSecurity"
                table.rls_where = where
            elif subtype in {"AT_SetRelOptions", "AT_ResetRelOptions"} and key in self.views:
                for option in cmd.def_ or ():
                    if option.defname == "security_invoker":
                        invoker = subtype == "AT_SetRelOptions" and _truthy(option.arg)
                        self.views[key].invoker = invoker

    def _on_CreatePolicyStmt(self, node: Any, where: tuple[Path, int]) -> None:
        key = _relation(node.table)
        self.tables.setdefault(key, _Table()).policies.add(node.policy_name)
        roles = {_role(role) for role in node.roles or ()} or {"public"}
        writes = node.cmd_name in {"all", "insert", "update", "delete"}
        if writes and roles & {"anon", "public"} and (_is_true(node.qual) or _is_true(node.with_check)):
            self._report(
                ANON_WRITE_TRUE,
                where,
                f'policy "{node.policy_name}" on {_name(key)} lets {"/".join(sorted(roles & {"anon", "public"}))}'
                f" {node.cmd_name if node.cmd_name != 'all' else 'write'} any row (true)",
            )

    def _on_ViewStmt(self, node: Any, where: tuple[Path, int]) -> None:
        key = _relation(node.view)
        invoker = any(o.defname == "security_invoker" and _truthy(o.arg) for o in node.options or ())
        self.views[key] = _View(where=where, invoker=invoker, reads=_read_relations(node.query))

    def _on_CreateFunctionStmt(self, node: Any, where: tuple[Path, int]) -> None:
        name = tuple(part.sval for part in node.funcname)
        outputs = {"FUNC_PARAM_OUT", "FUNC_PARAM_TABLE"}
        identity = tuple(_type_key(p.argType) for p in node.parameters or () if p.mode.name not in outputs)
        function = _Function(where)
        for option in node.options or ():
            _alter_function(function, option, where)
        self.functions[(*_qualified(name), identity)] = function

    def _on_AlterFunctionStmt(self, node: Any, where: tuple[Path, int]) -> None:
        for key in self._functions_named(node.func):
            for action in node.actions or ():
                _alter_function(self.functions[key], action, where)

    def _functions_named(self, func: Any) -> list[tuple[str, str, tuple[str, ...]]]:
        """The known functions an ``ObjectWithArgs`` names (all overloads when written without arguments)."""
        schema, name = _qualified(tuple(part.sval for part in func.objname))
        if func.args_unspecified:
            return [key for key in self.functions if key[:2] == (schema, name)]
        key = (schema, name, tuple(_type_key(t) for t in func.objargs or ()))
        return [key] if key in self.functions else []

    # -- after all files --------------------------------------------------------------
    def _final_checks(self) -> None:
        for (schema, name, _), function in self.functions.items():
            if function.definer and not function.fixed_path:
                self._report(
                    DEFINER_SEARCH_PATH,
                    function.where,
                    f"security definer function {schema}.{name} runs with the caller's search_path",
                )
        for key, table in self.tables.items():
            # Reported where RLS was last turned off, else where the table was created.
            off_where = table.rls_where or table.where
            if key[0] in self.exposed and not table.rls and off_where is not None:
                self._report(
                    RLS_DISABLED,
                    off_where,
                    f"table {_name(key)} is exposed in schema {key[0]} without row level security",
                    table=_name(key),
                )
            if table.rls and not table.policies and table.rls_where is not None:
                self._report(
                    RLS_NO_POLICY,
                    table.rls_where,
                    f"{_name(key)} has row level security but no policy: every API request sees no rows",
                    table=_name(key),
                )
        for key, view in self.views.items():
            protected = sorted(_name(t) for t in view.reads if t in self.tables and self.tables[t].rls)
            if key[0] in self.exposed and not view.invoker and protected:
                self._report(
                    VIEW_NOT_INVOKER,
                    view.where,
                    f"view {_name(key)} reads {', '.join(protected)} with its owner's rights, bypassing RLS",
                    view=_name(key),
                )

    def _report(self, rule: Rule, where: tuple[Path, int], message: str, **fields: str) -> None:
        path, line = where
        if path not in self._shown:
            return
        self.findings.append(
            Finding(self._shown[path], line, rule.name, rule.severity, message, rule.fix.format(**fields))
        )


_ROUTINES = frozenset({"OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE"})


def _alter_function(function: _Function, option: Any, where: tuple[Path, int]) -> None:
    """Apply one CREATE/ALTER FUNCTION option (a DefElem) to ``function``."""
    if option.defname == "security":
        definer = _truthy(option.arg)
        if definer and not function.definer:
            function.where = where
        function.definer = definer
    elif option.defname == "set":
        kind = option.arg.kind.name
        if getattr(option.arg, "name", None) == "search_path":
            # SET search_path = ... or FROM CURRENT pins it; RESET search_path unpins it.
            function.fixed_path = kind != "VAR_RESET"
        elif kind == "VAR_RESET_ALL":
            function.fixed_path = False


def _type_key(type_name: Any) -> str:
    """``int``, ``integer`` and ``int4`` alike: the type's own name, plus ``[]`` for arrays."""
    return type_name.names[-1].sval + ("[]" if type_name.arrayBounds else "")


def _qualified(names: tuple[str, ...]) -> tuple[str, str]:
    return (names[-2], names[-1]) if len(names) >= 2 else ("public", names[-1])


def _relation(range_var: Any) -> tuple[str, str]:
    return (range_var.schemaname or "public", range_var.relname)


def _name(key: tuple[str, str]) -> str:
    return f"{key[0]}.{key[1]}"


def _role(role: Any) -> str:
    kind = role.roletype.name
    if kind == "ROLESPEC_PUBLIC":
        return "public"
    return role.rolename or kind.removeprefix("ROLESPEC_").lower()


def _is_true(expr: Any) -> bool:
    """``true`` or ``'true'::boolean``."""
    if expr is None:
        return False
    if type(expr).__name__ == "TypeCast":
        expr = expr.arg
    if type(expr).__name__ != "A_Const" or expr.isnull:
        return False
    value = expr.val
    if type(value).__name__ == "Boolean":
        return bool(value.boolval)
    return type(value).__name__ == "String" and value.sval.lower() in {"true", "t", "on", "yes"}


def _truthy(arg: Any) -> bool:
    """A DefElem argument: a bare option (None) counts as true."""
    if arg is None:
        return True
    kind = type(arg).__name__
    if kind == "Boolean":
        return bool(arg.boolval)
    if kind == "Integer":
        return bool(arg.ival)
    if kind == "String":
        return arg.sval.lower() in {"true", "on", "1", "yes", "t"}
    return False


def _read_relations(query: Any) -> set[tuple[str, str]]:
    """Every relation a query reads (RangeVar nodes anywhere in it)."""
    from pglast.visitors import Visitor

    found: set[tuple[str, str]] = set()

    class _Reads(Visitor):  # type: ignore[misc]
        def visit_RangeVar(self, ancestors: Any, node: Any) -> None:
            found.add(_relation(node))

    _Reads()(query)
    return found
