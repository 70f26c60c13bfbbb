-- The catalog: public, read by anyone (anon and signed-in users).
create table public.products (
  id bigint generated always as identity primary key,
  slug text unique not null,
  name text not null,
  description text,
  price_cents int not null check (price_cents > 0),
  stock int not null default 0,
  created_at timestamptz default now()
);

comment on table public.products is 'The catalog; readable by everyone, written only by privileged roles.';

alter table public.products enable row level security;

create policy "products are readable by everyone"
  on public.products for select
  to anon, authenticated
  using (true);

grant select on public.products to anon, authenticated;
grant all on public.products to service_role;
