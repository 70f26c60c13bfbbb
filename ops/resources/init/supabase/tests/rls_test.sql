-- pgTAP tests for row level security, run by `inv db.test` on a fresh database built
-- from supabase/migrations and the seed (https://pgtap.org/documentation.html).
-- Impersonate a user the way PostgREST does: `set local role authenticated` and the
-- JWT claims in `request.jwt.claims`; `auth.uid()` then returns the user's id.
begin;
select plan(3);

-- Every table the API exposes has RLS switched on.
select is_empty(
  $$ select c.relname::text
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity $$,
  'every table in public has row level security enabled'
);

-- A user as the API sees them (rolled back with the rest of the test).
insert into auth.users (id, email) values ('00000000-0000-4000-8000-00000000a11c', 'rls-example@ops.invalid')
on conflict do nothing;
set local role authenticated;
select set_config(
  'request.jwt.claims',
  '{"sub": "00000000-0000-4000-8000-00000000a11c", "role": "authenticated"}',
  true
);
select is(auth.uid(), '00000000-0000-4000-8000-00000000a11c'::uuid, 'auth.uid() is the impersonated user');
select is(auth.role(), 'authenticated', 'auth.role() comes from the JWT claims');

-- Your own tables next, for example (profiles readable only by their owner):
--   select results_eq(
--     $$ select count(*) from public.profiles where id <> auth.uid() $$,
--     array[0::bigint],
--     'a user sees no other user''s profile'
--   );

select * from finish();
rollback;
