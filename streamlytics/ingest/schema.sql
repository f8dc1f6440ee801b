-- Raw landing and audit tables. This file is the contract between ingestion (which writes
-- these tables) and dbt (whose sources read them). Idempotent: safe to run before every load.
--
-- Landing rows are typed: a line whose fields cannot be parsed into these types never lands
-- here, it goes to audit.quarantine with a reason. Rules that need other rows (duplicates,
-- unknown keys, ranges, cross-file dates) are applied downstream in dbt staging.
--
-- dbt sources read the views raw.users, raw.viewing_sessions, raw.movies, raw.series,
-- raw.content_genres and raw.series_seasons. Every view row carries its lineage: _batch_id
-- (sha256 of the file's bytes), _source_file, _source_line (1-based physical line in the file;
-- for content.json the line where the item's `{` starts), _loaded_at, and _load_id (the
-- ledger's load order: sort by (_load_id, _source_line) for "first occurrence" rules).
--
-- Storage: the rows live in raw.<name>_rows tables that hold, per row, only the fields plus
-- (_load_id, _source_line) as 4-byte integers (the views present them as bigint). Batch-level
-- lineage (batch id, file name, load time) is stored once in audit.load_batches and joined in
-- by the views. Repeating a 64-character hash and a file
-- name on every one of millions of rows doubled the bytes COPY had to write (see
-- docs/ingestion.md, "Why views over *_rows tables").
-- Numbers with a fraction land as unconstrained numeric: exactly the digits received, no
-- rounding and no overflow, so range problems reach dbt staging as out_of_range.
-- No B-tree indexes and no foreign keys on the *_rows tables: they would slow every COPY, and
-- the only lookup by batch (deleting a superseded batch) is rare. The one exception is a BRIN
-- index on the sessions' load id: loads append, so each block range holds one or two loads and
-- the index costs a few pages; it lets the per-load GX validation and dbt's incremental models
-- read only the new load instead of scanning every session. It is on the bigint expression
-- the raw.viewing_sessions view exposes, so filters written against the view can use it.
-- autosummarize: block ranges a load fills are summarized by autovacuum shortly after the load
-- (summarizing them inside the load would cost ≈ 0.35 s per million rows on the critical path);
-- a range not yet summarized is simply read, so a query is never wrong, only slower.

create schema if not exists raw;
create schema if not exists audit;

-- One row per load attempt of a file (a batch). A batch id is 'loaded' at most once at a time.
create table if not exists audit.load_batches (
    load_id           bigserial primary key,     -- load order; landing rows reference it
    batch_id          text not null,             -- sha256 hex of the file's bytes
    source_file       text not null,             -- file name as received, e.g. viewing_sessions.csv
    source_path       text not null,             -- absolute path it was read from
    file_kind         text not null check (file_kind in ('users', 'content', 'viewing_sessions')),
    file_bytes        bigint not null,
    lines_read        bigint,                    -- data records read (CSV: lines after the header; JSON: items)
    rows_loaded       bigint,                    -- CSV: rows landed; JSON: items landed (movies + series rows)
    rows_quarantined  bigint,
    started_at        timestamptz not null,
    finished_at       timestamptz,
    status            text not null check (status in ('loaded', 'superseded', 'failed')),
    superseded_by     bigint references audit.load_batches (load_id),
    error             text,                      -- status 'failed': what went wrong
    notes             text,                      -- what was accepted and adjusted, e.g. a skipped UTF-8 byte-order mark
    check (status <> 'loaded' or lines_read = rows_loaded + rows_quarantined)
);

-- Ledgers made before the notes column existed get it on their next load.
alter table audit.load_batches add column if not exists notes text;

create unique index if not exists load_batches_one_loaded_batch
    on audit.load_batches (batch_id) where status = 'loaded';

create table if not exists audit.quarantine (
    quarantine_id  bigserial primary key,
    batch_id       text not null,
    source_file    text not null,
    source_line    bigint,                       -- 1-based physical line (JSON: first line of the item)
    item_index     integer,                      -- content.json only: 0-based index within movies/series
    stage          text not null check (stage in ('ingest', 'staging')),
    reason_code    text not null,                -- field_count, bad_number, bad_date, empty_required, json_*
    field          text,                         -- offending field, when one is to blame
    value          text,                         -- offending value as received
    message        text not null,                -- human sentence naming file, line, field and value
    raw_text       text,                         -- the whole raw line / JSON item
    detected_at    timestamptz not null default now()
);

create index if not exists quarantine_batch_id on audit.quarantine (batch_id);

create table if not exists raw.users_rows (
    user_id                 text not null,
    age                     integer not null,
    country                 text not null,
    subscription_type       text not null,
    registration_date       date not null,
    total_watch_time_hours  numeric not null,
    _source_line            integer not null,
    _load_id                integer not null
);

create table if not exists raw.viewing_sessions_rows (
    session_id                text not null,
    user_id                   text not null,
    content_id                text not null,
    watch_date                date not null,
    watch_duration_minutes    integer not null,
    completion_percentage     numeric not null,
    device_type               text not null,
    quality_level             text not null,
    _source_line              integer not null,
    _load_id                  integer not null
);

create index if not exists viewing_sessions_rows_load_id_brin
    on raw.viewing_sessions_rows using brin ((_load_id::bigint)) with (autosummarize = on);
alter index raw.viewing_sessions_rows_load_id_brin set (autosummarize = on);

-- content.json, flattened: one row per movie, per series, per (title, genre), per (series, season).
create table if not exists raw.movies_rows (
    content_id         text not null,
    title              text not null,
    duration_minutes   integer not null,
    release_year       integer not null,
    rating             numeric not null,
    views_count        bigint not null,
    production_budget  bigint not null,
    _item_index        integer not null,
    _source_line       integer not null,
    _load_id           integer not null
);

create table if not exists raw.series_rows (
    content_id            text not null,
    title                 text not null,
    seasons               integer not null,
    avg_episode_duration  integer not null,
    rating                numeric not null,
    total_views           bigint not null,
    production_budget     bigint not null,
    _item_index           integer not null,
    _source_line          integer not null,
    _load_id              integer not null
);

create table if not exists raw.content_genres_rows (
    content_id      text not null,
    content_type    text not null check (content_type in ('movie', 'series')),
    genre           text not null,
    genre_position  integer not null,            -- 1-based order in the item's genre list
    _item_index     integer not null,
    _source_line    integer not null,
    _load_id        integer not null
);

create table if not exists raw.series_seasons_rows (
    content_id      text not null,
    season_number   integer not null,            -- 1-based position in episodes_per_season
    episode_count   integer not null,
    _item_index     integer not null,
    _source_line    integer not null,
    _load_id        integer not null
);

create or replace view raw.users as
select
    r.user_id, r.age, r.country, r.subscription_type, r.registration_date,
    r.total_watch_time_hours,
    b.batch_id as _batch_id, b.source_file as _source_file, r._source_line::bigint as _source_line,
    b.finished_at as _loaded_at, r._load_id::bigint as _load_id
from raw.users_rows as r
inner join audit.load_batches as b on b.load_id = r._load_id;

create or replace view raw.viewing_sessions as
select
    r.session_id, r.user_id, r.content_id, r.watch_date, r.watch_duration_minutes,
    r.completion_percentage, r.device_type, r.quality_level,
    b.batch_id as _batch_id, b.source_file as _source_file, r._source_line::bigint as _source_line,
    b.finished_at as _loaded_at, r._load_id::bigint as _load_id
from raw.viewing_sessions_rows as r
inner join audit.load_batches as b on b.load_id = r._load_id;

create or replace view raw.movies as
select
    r.content_id, r.title, r.duration_minutes, r.release_year, r.rating, r.views_count,
    r.production_budget, r._item_index,
    b.batch_id as _batch_id, b.source_file as _source_file, r._source_line::bigint as _source_line,
    b.finished_at as _loaded_at, r._load_id::bigint as _load_id
from raw.movies_rows as r
inner join audit.load_batches as b on b.load_id = r._load_id;

create or replace view raw.series as
select
    r.content_id, r.title, r.seasons, r.avg_episode_duration, r.rating, r.total_views,
    r.production_budget, r._item_index,
    b.batch_id as _batch_id, b.source_file as _source_file, r._source_line::bigint as _source_line,
    b.finished_at as _loaded_at, r._load_id::bigint as _load_id
from raw.series_rows as r
inner join audit.load_batches as b on b.load_id = r._load_id;

create or replace view raw.content_genres as
select
    r.content_id, r.content_type, r.genre, r.genre_position, r._item_index,
    b.batch_id as _batch_id, b.source_file as _source_file, r._source_line::bigint as _source_line,
    b.finished_at as _loaded_at, r._load_id::bigint as _load_id
from raw.content_genres_rows as r
inner join audit.load_batches as b on b.load_id = r._load_id;

create or replace view raw.series_seasons as
select
    r.content_id, r.season_number, r.episode_count, r._item_index,
    b.batch_id as _batch_id, b.source_file as _source_file, r._source_line::bigint as _source_line,
    b.finished_at as _loaded_at, r._load_id::bigint as _load_id
from raw.series_seasons_rows as r
inner join audit.load_batches as b on b.load_id = r._load_id;
