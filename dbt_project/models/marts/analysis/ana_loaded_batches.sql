{#-
    Every loaded batch (one file as received) and where its records went (grain batch_id):
    lines read, rows landed, rows refused at ingest and at staging, rows in the core.
-#}
with

batches as (
    select * from {{ ref('stg_ingest_audit__load_batches') }}
    where status = 'loaded'
),

quarantine as (
    select * from {{ ref('all_quarantine') }}
),

users as (
    select * from {{ ref('users') }}
),

content as (
    select * from {{ ref('content') }}
),

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

refused as (
    select
        batch_id,
        sum(case when stage = 'ingest' then 1 else 0 end) as rows_refused_at_ingest,
        sum(case when stage = 'staging' then 1 else 0 end) as rows_refused_at_staging
    from quarantine
    group by batch_id
),

core_rows as (
    select batch_id from users
    union all
    select batch_id from content
    union all
    select batch_id from sessions
),

in_core as (
    select
        batch_id,
        count(*) as rows_in_core
    from core_rows
    group by batch_id
),

final as (
    select
        batches.batch_id,
        batches.load_id,
        batches.source_file,
        batches.file_kind,
        batches.file_bytes,
        batches.lines_read,
        batches.rows_loaded,
        batches.rows_quarantined,
        cast(
            coalesce(refused.rows_refused_at_ingest, 0) as {{ dbt.type_bigint() }}
        ) as rows_refused_at_ingest,
        cast(
            coalesce(refused.rows_refused_at_staging, 0) as {{ dbt.type_bigint() }}
        ) as rows_refused_at_staging,
        cast(coalesce(in_core.rows_in_core, 0) as {{ dbt.type_bigint() }}) as rows_in_core,
        batches.started_at,
        batches.finished_at
    from batches
    left join refused
        on batches.batch_id = refused.batch_id
    left join in_core
        on batches.batch_id = in_core.batch_id
)

select * from final
