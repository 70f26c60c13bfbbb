"""PostgreSQL: finding the server binaries, running a local cluster, the
Supabase-shaped bootstrap, and connections."""
