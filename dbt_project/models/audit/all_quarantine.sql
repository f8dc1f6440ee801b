{#- Every refused record, from the ingest (audit.quarantine) and from dbt staging, in one shape. -#}
{{ config(materialized='view') }}

with

ingest_quarantine as (
    select * from {{ ref('stg_ingest_audit__quarantine') }}
),

staging_quarantine as (
    select * from {{ ref('staging_quarantine') }}
),

unioned as (
    select
        quarantine_id,
        {{ dbt.concat(["'ingest:'", "cast(quarantine_id as " ~ dbt.type_string() ~ ")"]) }} as quarantine_key,
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
    from ingest_quarantine

    union all

    select
        quarantine_id,
        quarantine_key,
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
    from staging_quarantine
)

select * from unioned
