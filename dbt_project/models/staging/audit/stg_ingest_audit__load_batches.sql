with

source as (
    select * from {{ source('ingest_audit', 'load_batches') }}
),

final as (
    select
        load_id,
        batch_id,
        source_file,
        file_kind,
        file_bytes,
        lines_read,
        rows_loaded,
        rows_quarantined,
        started_at,
        finished_at,
        status
    from source
)

select * from final
