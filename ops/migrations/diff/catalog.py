"""Our own catalog inventory: every object kind we diff, as the server deparses it.

It sees what the engine does not model (schemas, RLS flags, grants, comments,
default privileges, publication membership...), so the self-check can tell
whether the generated SQL really reaches the target.
"""

from __future__ import annotations

from typing import Any

from ops.migrations.diff.engine import EXCLUDED_SCHEMAS, connect_to, in_scope

# One query per object kind: (kind, identity, definition). Definitions use the
# server's own deparsers so that equal objects print equally on both sides.
_INVENTORY_QUERIES: dict[str, str] = {
    "relation": """
        select n.nspname, c.relname,
               concat_ws(' ', 'kind=' || c.relkind::text, 'persistence=' || c.relpersistence::text,
                         'rls=' || c.relrowsecurity::text, 'force_rls=' || c.relforcerowsecurity::text,
                         'options=' || coalesce(array_to_string(array(select unnest(c.reloptions) order by 1), ','),
                                                ''),
                         'replica_identity=' || c.relreplident::text)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')""",
    "column": """
        select n.nspname, c.relname || '.' || a.attname,
               concat_ws(' ', format_type(a.atttypid, a.atttypmod), case when a.attnotnull then 'not null' end,
                         'default ' || pg_get_expr(ad.adbin, ad.adrelid), nullif(a.attidentity::text, ''),
                         nullif(a.attgenerated::text, ''), 'collate ' || nullif(co.collname, 'default'))
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
        left join pg_collation co on co.oid = a.attcollation and a.attcollation <> 0
        where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')""",
    "column grant": """
        select n.nspname, c.relname || '.' || a.attname,
               coalesce((select string_agg(distinct x.grantee::regrole || ':' || x.privilege_type, ',')
                         from aclexplode(a.attacl) x), '')
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where a.attacl is not null and a.attnum > 0 and not a.attisdropped""",
    "constraint": """
        select n.nspname, c.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
        from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace""",
    "index": """
        select n.nspname, i.relname, pg_get_indexdef(i.oid)
        from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
        where not exists (select 1 from pg_depend d where d.objid = x.indrelid and d.deptype = 'e')""",
    "view": """
        select n.nspname, c.relname, pg_get_viewdef(c.oid)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('v', 'm')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')""",
    "policy": """
        select n.nspname, c.relname || '.' || p.polname,
               concat_ws(' ', p.polcmd::text, case when p.polpermissive then 'permissive' else 'restrictive' end,
                         'to ' || array_to_string(array(select case when r = 0 then 'public' else r::regrole::text end
                                                        from unnest(p.polroles) r order by 1), ','),
                         'using ' || pg_get_expr(p.polqual, p.polrelid),
                         'check ' || pg_get_expr(p.polwithcheck, p.polrelid))
        from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace""",
    "trigger": """
        select n.nspname, c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
        from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
        where not t.tgisinternal""",
    "function": """
        select n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               pg_get_functiondef(p.oid)
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prokind in ('f', 'p')
          and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')""",
    "type": """
        select n.nspname, t.typname,
               concat_ws(' ', t.typtype::text,
                         (select string_agg(e.enumlabel, ',' order by e.enumsortorder)
                          from pg_enum e where e.enumtypid = t.oid),
                         case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end)
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where (t.typtype in ('e', 'd')
               or (t.typtype = 'c' and exists (select 1 from pg_class r where r.oid = t.typrelid and r.relkind = 'c')))
          and not exists (select 1 from pg_depend d where d.objid = t.oid and d.deptype = 'e')""",
    "grant": """
        select n.nspname, c.relname,
               coalesce((select string_agg(distinct x.grantee::regrole::text || ':' || x.privilege_type, ','
                                           order by x.grantee::regrole::text || ':' || x.privilege_type)
                         from aclexplode(c.relacl) x where x.grantee <> 0 and x.grantee <> c.relowner), '')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')""",
    "publication": """
        select n.nspname, c.relname, string_agg(p.pubname, ',' order by p.pubname)
        from pg_publication_rel r join pg_publication p on p.oid = r.prpubid
        join pg_class c on c.oid = r.prrelid join pg_namespace n on n.oid = c.relnamespace
        group by 1, 2""",
    "comment": """
        select n.nspname, c.relname || coalesce('.' || a.attname, ''), d.description
        from pg_description d join pg_class c on d.classoid = 'pg_class'::regclass and d.objoid = c.oid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0""",
    "statistics object": """
        select n.nspname, s.stxname, pg_get_statisticsobjdef(s.oid)
        from pg_statistic_ext s join pg_namespace n on n.oid = s.stxnamespace""",
    "default privileges": """
        select n.nspname, pg_get_userbyid(d.defaclrole) || ' on ' || d.defaclobjtype::text,
               array_to_string(array(select x::text from unnest(d.defaclacl) x order by 1), ',')
        from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace
        -- only the migrating role's: the platform's own roles have theirs on hosted projects
        where d.defaclrole = (select oid from pg_roles where rolname = current_user)""",
    "schema": """
        select n.nspname, n.nspname, 'schema' from pg_namespace n""",
    "sequence": """
        select n.nspname, c.relname,
               concat_ws(' ', format_type(s.seqtypid, null), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                         s.seqcache, case when s.seqcycle then 'cycle' end)
        from pg_sequence s join pg_class c on c.oid = s.seqrelid join pg_namespace n on n.oid = c.relnamespace""",
    "collation": """
        select n.nspname, c.collname, concat_ws(' ', c.collprovider::text, c.collcollate, c.collctype)
        from pg_collation c join pg_namespace n on n.oid = c.collnamespace""",
    # Extensions are diffed whatever schema they live in (most live in the excluded `extensions`).
    "extension": """
        select null::name, e.extname, e.extversion || ' in ' || n.nspname
        from pg_extension e join pg_namespace n on n.oid = e.extnamespace""",
}


# What counts in auth and storage: the project's own policies and triggers.
_MANAGED_KINDS = frozenset({"policy", "trigger"})


def inventory(conn: Any, schemas: tuple[str, ...] = ()) -> dict[str, str]:
    """``{"<kind> <schema>.<name>": definition}`` for everything we diff."""
    found: dict[str, str] = {}
    # Filtered in SQL so that the deparsers never run over pg_catalog's thousands of objects.
    if schemas:
        where, params = "schema_name is null or schema_name = any(%s)", [list(schemas)]
    else:
        where = r"schema_name is null or (schema_name <> all(%s) and schema_name not like 'pg\_%%')"
        params = [sorted(EXCLUDED_SCHEMAS)]
    for kind, query in _INVENTORY_QUERIES.items():
        wrapped = f"select * from ({query}) as found(schema_name, name, definition) where {where}"
        for schema, name, definition in conn.execute(wrapped, params).fetchall():  # type: ignore[call-overload]
            if not in_scope("triggers" if kind in _MANAGED_KINDS else kind, schema, schemas):
                continue
            found[f"{kind} {name}" if schema is None or kind == "schema" else f"{kind} {schema}.{name}"] = (
                definition or ""
            )
    return found


def inventory_of(url: str, schemas: tuple[str, ...]) -> dict[str, str]:
    with connect_to(url) as conn:
        return inventory(conn, schemas)


def compare_inventories(actual: dict[str, str], expected: dict[str, str]) -> list[str]:
    """Differences as ``missing|unexpected|different: <kind> <name>`` lines."""
    lines: list[str] = []
    for key in sorted(expected.keys() - actual.keys()):
        lines.append(f"missing: {key} ({_clip(expected[key])})")
    for key in sorted(actual.keys() - expected.keys()):
        lines.append(f"unexpected: {key}")
    for key in sorted(expected.keys() & actual.keys()):
        if expected[key] != actual[key]:
            lines.append(f"different: {key} (want {_clip(expected[key])}; got {_clip(actual[key])})")
    return lines


def _clip(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
