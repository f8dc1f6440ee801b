{#-
    One example of each rule's refusals per file (grain source_file x reason_code): the message
    of the first refused line (records without a line last) of the loaded batches.
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
        quarantine.reason_code,
        quarantine.source_line,
        quarantine.quarantine_key,
        quarantine.message
    from quarantine
    inner join batches
        on quarantine.batch_id = batches.batch_id
),

ranked as (
    select
        source_file,
        reason_code,
        message,
        row_number() over (
            partition by source_file, reason_code
            order by
                case when source_line is null then 1 else 0 end,
                source_line,
                quarantine_key
        ) as line_rank
    from refused
),

final as (
    select
        source_file,
        reason_code,
        message
    from ranked
    where line_rank = 1
)

select * from final
