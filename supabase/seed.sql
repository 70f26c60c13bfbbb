-- Sample data for the local stack, applied after the migrations
-- ([db.seed] in config.toml). Safe to run again: every insert skips rows that exist.
-- Names are schema-qualified so it does not depend on the database search_path.

-- Catalog. Stock is generous so bounded load runs that check out do not sell out.
insert into public.products (slug, name, description, price_cents, stock) values
  ('air-runner-classic', 'Air Runner Classic', 'Everyday runner with a foam midsole.', 11999, 2400),
  ('court-legend-low', 'Court Legend Low', 'Leather low-top inspired by 80s courts.', 9499, 3100),
  ('court-legend-high', 'Court Legend High', 'The high-top version with a padded collar.', 10999, 1800),
  ('trail-blazer-gtx', 'Trail Blazer GTX', 'Waterproof trail shoe with a lugged outsole.', 15999, 1200),
  ('street-glide', 'Street Glide', 'Slip-on canvas skate shoe.', 5999, 4200),
  ('retro-jogger-85', 'Retro Jogger 85', 'Suede and mesh jogger, 1985 colourway.', 8999, 2600),
  ('hoop-dream-pro', 'Hoop Dream Pro', 'Basketball shoe with ankle support.', 17999, 1500),
  ('cloud-step-knit', 'Cloud Step Knit', 'Breathable knit upper, recycled sole.', 12999, 2200),
  ('city-walker', 'City Walker', 'Minimal leather sneaker for daily wear.', 10499, 2800),
  ('sprint-spike-x', 'Sprint Spike X', 'Track spike for 100 to 400 metres.', 13999, 1000),
  ('skate-vault-mid', 'Skate Vault Mid', 'Mid-top skate shoe with a vulcanised sole.', 7499, 3300),
  ('marathon-max', 'Marathon Max', 'Long-distance cushioning with a carbon plate.', 24999, 1100),
  ('terrace-og', 'Terrace OG', 'Gum-sole terrace classic.', 8499, 3600),
  ('platform-pop', 'Platform Pop', 'Chunky platform sneaker.', 11499, 1900),
  ('canvas-hi-top', 'Canvas Hi-Top', 'The canvas high-top that goes with anything.', 6499, 5000),
  ('dad-shoe-2000', 'Dad Shoe 2000', 'Chunky retro runner.', 9999, 2100),
  ('gym-flex-trainer', 'Gym Flex Trainer', 'Flat, stable trainer for lifting.', 8999, 2700),
  ('desert-suede', 'Desert Suede', 'Suede sneaker with a crepe sole.', 12499, 1300),
  ('neon-racer', 'Neon Racer', 'Lightweight racer in high-vis colours.', 13499, 1600),
  ('vintage-tennis', 'Vintage Tennis', 'Clean white tennis shoe.', 7999, 4000),
  ('collab-edition-01', 'Collab Edition 01', 'Limited collaboration, numbered box.', 29999, 1000),
  ('kids-runner', 'Kids Runner', 'Velcro runner for small feet.', 4999, 3500),
  ('winter-boot-sneaker', 'Winter Boot Sneaker', 'Insulated sneaker boot.', 16999, 1400),
  ('recycled-slide', 'Recycled Slide', 'Slide sandal from recycled foam.', 3499, 4800)
on conflict (slug) do nothing;

-- Two users, as `supabase db dump --data-only` writes them (password: "password").
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  confirmation_token, recovery_token, email_change_token_new, email_change
) values
  ('00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000001', 'authenticated', 'authenticated',
   'alice@example.com', extensions.crypt('password', extensions.gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"]}', '{"name": "Alice"}', now(), now(), '', '', '', ''),
  ('00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000002', 'authenticated', 'authenticated',
   'bob@example.com', extensions.crypt('password', extensions.gen_salt('bf')), now(),
   '{"provider": "email", "providers": ["email"]}', '{"name": "Bob"}', now(), now(), '', '', '', '')
on conflict (id) do nothing;

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at) values
  ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000001',
   '{"sub": "00000000-0000-0000-0000-000000000001", "email": "alice@example.com", "email_verified": true}',
   'email', now(), now(), now()),
  ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000002',
   '{"sub": "00000000-0000-0000-0000-000000000002", "email": "bob@example.com", "email_verified": true}',
   'email', now(), now(), now())
on conflict (provider_id, provider) do nothing;

-- A couple of orders each.
insert into public.orders (id, user_id, status, created_at) values
  ('10000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000001', 'paid', now() - interval '3 days'),
  ('10000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'pending', now() - interval '1 day'),
  ('20000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', 'paid', now() - interval '5 days'),
  ('20000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000002', 'shipped', now() - interval '2 days')
on conflict (id) do nothing;

insert into public.order_items (order_id, product_id, quantity, unit_price_cents)
select line.order_id::uuid, p.id, line.quantity, p.price_cents
from (values
  ('10000000-0000-0000-0000-000000000001', 'air-runner-classic', 1),
  ('10000000-0000-0000-0000-000000000001', 'street-glide', 2),
  ('10000000-0000-0000-0000-000000000002', 'marathon-max', 1),
  ('20000000-0000-0000-0000-000000000001', 'court-legend-low', 1),
  ('20000000-0000-0000-0000-000000000002', 'canvas-hi-top', 3),
  ('20000000-0000-0000-0000-000000000002', 'recycled-slide', 1)
) as line (order_id, slug, quantity)
join public.products p on p.slug = line.slug
on conflict (order_id, product_id) do nothing;

-- Totals come from the lines, so they always match the prices above.
update public.orders o
set total_cents = totals.total_cents
from (
  select order_id, sum(quantity * unit_price_cents)::int as total_cents
  from public.order_items
  group by order_id
) as totals
where totals.order_id = o.id
  and o.id in ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000002',
               '20000000-0000-0000-0000-000000000001', '20000000-0000-0000-0000-000000000002');
