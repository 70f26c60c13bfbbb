-- RLS isolation of orders and order_items, tested the way PostgREST runs a
-- request: `set local role` plus request.jwt.claims for the signed-in user.
-- Everything runs in one transaction and is rolled back.
begin;
select plan(18);

-- Two users of our own (not the seed's), each with one order of one line.
insert into auth.users (id, email, aud, role) values
  ('10000000-0000-4000-8000-00000000000a', 'tap-ann@example.com', 'authenticated', 'authenticated'),
  ('10000000-0000-4000-8000-00000000000b', 'tap-ben@example.com', 'authenticated', 'authenticated');
insert into public.products (slug, name, price_cents, stock) values ('pgtap-shoe', 'pgTAP Shoe', 1000, 10);
insert into public.orders (id, user_id, total_cents) values
  ('20000000-0000-4000-8000-00000000000a', '10000000-0000-4000-8000-00000000000a', 1000),
  ('20000000-0000-4000-8000-00000000000b', '10000000-0000-4000-8000-00000000000b', 2000);
insert into public.order_items (order_id, product_id, quantity, unit_price_cents)
  select o, (select id from public.products where slug = 'pgtap-shoe'), 1, 1000
  from unnest(array['20000000-0000-4000-8000-00000000000a', '20000000-0000-4000-8000-00000000000b']::uuid[]) as o;

select ok(
  (select relrowsecurity from pg_class where oid = 'public.orders'::regclass)
  and (select relrowsecurity from pg_class where oid = 'public.order_items'::regclass),
  'RLS is enabled on orders and order_items'
);

-- Ann ------------------------------------------------------------------------
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"10000000-0000-4000-8000-00000000000a","role":"authenticated"}', true);

select results_eq(
  'select id from public.orders',
  $$values ('20000000-0000-4000-8000-00000000000a'::uuid)$$,
  'Ann sees only her own order'
);
select results_eq(
  'select order_id from public.order_items',
  $$values ('20000000-0000-4000-8000-00000000000a'::uuid)$$,
  'Ann sees only the lines of her own order'
);
select lives_ok(
  $$insert into public.orders (id, total_cents) values ('20000000-0000-4000-8000-0000000000a2', 500)$$,
  'Ann creates an order for herself (user_id defaults to auth.uid())'
);
select lives_ok(
  $$insert into public.order_items (order_id, product_id, quantity, unit_price_cents)
    values ('20000000-0000-4000-8000-0000000000a2', (select id from public.products where slug = 'pgtap-shoe'), 1, 500)$$,
  'Ann adds a line to her own order'
);
select throws_ok(
  $$insert into public.orders (user_id, total_cents) values ('10000000-0000-4000-8000-00000000000b', 1)$$,
  '42501', null,
  'Ann cannot create an order in Ben''s name'
);
select throws_ok(
  $$insert into public.order_items (order_id, product_id, quantity, unit_price_cents)
    values ('20000000-0000-4000-8000-00000000000b', (select id from public.products where slug = 'pgtap-shoe'), 5, 1)$$,
  '42501', null,
  'Ann cannot add lines to Ben''s order'
);
select is_empty(
  $$select 1 from public.orders where user_id = '10000000-0000-4000-8000-00000000000b'$$,
  'Ann cannot see Ben''s orders even by asking for them'
);
update public.orders set status = 'hijacked' where id = '20000000-0000-4000-8000-00000000000b';
delete from public.orders where id = '20000000-0000-4000-8000-00000000000b';

-- Ben ------------------------------------------------------------------------
select set_config('request.jwt.claims', '{"sub":"10000000-0000-4000-8000-00000000000b","role":"authenticated"}', true);

select results_eq(
  'select id from public.orders',
  $$values ('20000000-0000-4000-8000-00000000000b'::uuid)$$,
  'Ben sees only his own order, not the one Ann just created'
);
select results_eq(
  'select order_id from public.order_items',
  $$values ('20000000-0000-4000-8000-00000000000b'::uuid)$$,
  'Ben sees only the lines of his own order'
);
select results_eq(
  'select status from public.orders',
  $$values ('pending'::text)$$,
  'Ann''s update did not touch Ben''s order'
);

-- Signed-in user without orders: sees nothing -----------------------------------
select set_config('request.jwt.claims', '{"sub":"10000000-0000-4000-8000-0000000000ff","role":"authenticated"}', true);
select is_empty('select 1 from public.orders', 'a user without orders sees no orders');

-- anon -------------------------------------------------------------------------
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);

select is_empty('select 1 from public.orders', 'anon sees no orders');
select is_empty('select 1 from public.order_items', 'anon sees no order lines');
select throws_ok(
  $$insert into public.orders (user_id, total_cents) values ('10000000-0000-4000-8000-00000000000a', 1)$$,
  '42501', null,
  'anon cannot create orders'
);
select isnt_empty('select 1 from public.products', 'anon still reads the catalog');

-- Back to the owner: the writes that RLS refused left nothing behind -------------
reset role;
select is(
  (select count(*)::int from public.orders where user_id = '10000000-0000-4000-8000-00000000000a'),
  2,
  'Ann has exactly the order she created plus her first one'
);
select is(
  (select status from public.orders where id = '20000000-0000-4000-8000-00000000000b'),
  'pending',
  'Ben''s order still exists and is unchanged'
);

select * from finish();
rollback;
