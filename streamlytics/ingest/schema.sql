-- Raw landing and audit tables. This file is the contract between ingestion (which writes
-- these tables) and dbt (whose sources read them). Idempotent: safe to run before every load.
--
-- Landing rows are typed: a line whose fields cannot be parsed into these types never lands
-- here, it goes to audit.quarantine with a reason. Rules that need other rows (duplicates,
-- unknown keys, ranges, cross-file dates) are applied downstream in dbt staging.
-- Every landing row carries its lineage: _batch_id (sha256 of the file's bytes), _source_file,
-- _source_line (1-based physical line in the file; for content.json the line where the item
-- starts), _loaded_at.

create schema if not exists raw;
create schema if not exists audit;

create table if not exists audit.load_batches (
    batch_id          text primary key,          -- sha256 hex of the file's bytes
    source_file       text not null,             -- file name as received, e.g. viewing_sessions.csv
    source_path       text not null,             -- absolute path it was read from
    file_kind         text not null check (file_kind in ('users', 'content', 'viewing_sessions')),
    file_bytes        bigint not null,
    lines_read        bigint,                    -- data records read (CSV: lines after the header; JSON: items)
    rows_loaded       bigint,
    rows_quarantined  bigint,
    started_at        timestamptz not null,
    finished_at       timestamptz,
    status            text not null check (status in ('loaded', 'superseded', 'failed'))
);

create table if not exists audit.quarantine (
    quarantine_id  bigserial primary key,
    batch_id       text not null,
    source_file    text not null,
    source_line    bigint,                       -- 1-based physical line (JSON: first line of the item)
    item_index     integer,                      -- content.json only: 0-based index within movies/series
    stage          text not null check (stage in ('ingest', 'staging')),
    reason_code    text not null,                -- e.g. field_count, bad_integer, bad_date, empty_required
    field          text,                         -- offending field, when one is to blame
    value          text,                         -- offending value as received
    message        text not null,                -- human sentence naming file, line, field and value
    raw_text       text,                         -- the whole raw line / JSON item
    detected_at    timestamptz not null default now()
);

create table if not exists raw.users (
    user_id                 text not null,
    age                     integer,
    country                 text,
    subscription_type       text,
    registration_date       date,
    total_watch_time_hours  numeric(12, 1),
    _batch_id               text not null,
    _source_file            text not null,
    _source_line            bigint not null,
    _loaded_at              timestamptz not null
);

create table if not exists raw.viewing_sessions (
    session_id                text not null,
    user_id                   text not null,
    content_id                text not null,
    watch_date                date not null,
    watch_duration_minutes    integer not null,
    completion_percentage     numeric(6, 1) not null,
    device_type               text not null,
    quality_level             text not null,
    _batch_id                 text not null,
    _source_file              text not null,
    _source_line              bigint not null,
    _loaded_at                timestamptz not null
);

-- content.json, flattened: one row per movie, per series, per (title, genre), per (series, season).
create table if not exists raw.movies (
    content_id         text not null,
    title              text not null,
    duration_minutes   integer not null,
    release_year       integer not null,
    rating             numeric(3, 1) not null,
    views_count        bigint not null,
    production_budget  bigint not null,
    _item_index        integer not null,
    _batch_id          text not null,
    _source_file       text not null,
    _source_line       bigint not null,
    _loaded_at         timestamptz not null
);

create table if not exists raw.series (
    content_id            text not null,
    title                 text not null,
    seasons               integer not null,
    avg_episode_duration  integer not null,
    rating                numeric(3, 1) not null,
    total_views           bigint not null,
    production_budget     bigint not null,
    _item_index           integer not null,
    _batch_id             text not null,
    _source_file          text not null,
    _source_line          bigint not null,
    _loaded_at            timestamptz not null
);

create table if not exists raw.content_genres (
    content_id      text not null,
    content_type    text not null check (content_type in ('movie', 'series')),
    genre           text not null,
    genre_position  integer not null,            -- 1-based order in the item's genre list
    _batch_id       text not null,
    _source_file    text not null,
    _source_line    bigint not null,
    _loaded_at      timestamptz not null
);

create table if not exists raw.series_seasons (
    content_id      text not null,
    season_number   integer not null,            -- 1-based position in episodes_per_season
    episode_count   integer not null,
    _batch_id       text not null,
    _source_file    text not null,
    _source_line    bigint not null,
    _loaded_at      timestamptz not null
);
