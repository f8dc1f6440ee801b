{#-
    Refused records of the loaded batches per rule (grain batch_id x stage x reason_code x
    field; field '' when the whole record is to blame), with the alphabetically first message.
-#}
with

quarantine as (
    select * from {{ ref('all_quarantine') }}
),

batches as (
    select * from {{ ref('stg_ingest_audit__load_batches') }}
    where status = 'loaded'
),

refused as (
    select
        quarantine.batch_id,
        quarantine.source_file,
        quarantine.stage,
        quarantine.reason_code,
        coalesce(quarantine.field, '') as field,
        quarantine.message
    from quarantine
    inner join batches
        on quarantine.batch_id = batches.batch_id
),

final as (
    select
        batch_id,
        stage,
        reason_code,
        field,
        source_file,
        count(*) as refused_rows,
        min(message) as example_message
    from refused
    group by batch_id, stage, reason_code, field, source_file
)

select * from final
