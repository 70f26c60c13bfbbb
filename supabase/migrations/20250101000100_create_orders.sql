-- Orders and their lines. A signed-in user sees and creates only their own
-- (RLS keyed on auth.uid(), which reads request.jwt.claims as PostgREST sets it).
create table public.orders (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  status text not null default 'pending',
  total_cents int not null default 0,
  created_at timestamptz not null default now()
);

create table public.order_items (
  order_id uuid references public.orders (id) on delete cascade,
  product_id bigint references public.products (id),
  quantity int not null check (quantity > 0),
  unit_price_cents int not null,
  primary key (order_id, product_id)
);

-- Foreign keys are not indexed automatically; RLS filters on user_id on every read.
create index orders_user_id_idx on public.orders (user_id);
create index order_items_product_id_idx on public.order_items (product_id);

alter table public.orders enable row level security;
alter table public.order_items enable row level security;

-- (select auth.uid()) is evaluated once per statement instead of once per row.
create policy "users read their own orders"
  on public.orders for select
  to authenticated
  using (user_id = (select auth.uid()));

create policy "users create their own orders"
  on public.orders for insert
  to authenticated
  with check (user_id = (select auth.uid()));

create policy "users read the lines of their own orders"
  on public.order_items for select
  to authenticated
  using (exists (
    select 1 from public.orders o
    where o.id = order_items.order_id and o.user_id = (select auth.uid())
  ));

create policy "users add lines to their own orders"
  on public.order_items for insert
  to authenticated
  with check (exists (
    select 1 from public.orders o
    where o.id = order_items.order_id and o.user_id = (select auth.uid())
  ));

grant select, insert on public.orders, public.order_items to authenticated;
grant all on public.orders, public.order_items to service_role;
