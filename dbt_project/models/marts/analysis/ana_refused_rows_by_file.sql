{#-
    Refused records of the loaded batches per file, stage and rule (grain source_file x stage x
    reason_code).
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
        quarantine.source_file,
        quarantine.stage,
        quarantine.reason_code
    from quarantine
    inner join batches
        on quarantine.batch_id = batches.batch_id
),

final as (
    select
        source_file,
        stage,
        reason_code,
        count(*) as refused_rows
    from refused
    group by source_file, stage, reason_code
)

select * from final
