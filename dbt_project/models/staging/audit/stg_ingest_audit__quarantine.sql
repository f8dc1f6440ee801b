with

source as (
    select * from {{ source('ingest_audit', 'quarantine') }}
),

final as (
    select
        quarantine_id,
        batch_id,
        source_file,
        source_line,
        item_index,
        stage,
        reason_code,
        field,
        value,
        message,
        raw_text,
        detected_at
    from source
)

select * from final
