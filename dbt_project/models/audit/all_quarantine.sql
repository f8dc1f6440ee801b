{#- Every refused record, from the ingest (audit.quarantine) and from dbt staging, in one shape. -#}
{{ config(materialized='view') }}

{#- quarantine_key: ingest rows are keyed by their quarantine_id, staging rows bring their own key. -#}
{%- set quarantine_sources = [
    {'cte': 'ingest_quarantine',
     'key': dbt.concat(["'ingest:'", "cast(quarantine_id as " ~ dbt.type_string() ~ ")"])},
    {'cte': 'staging_quarantine', 'key': 'quarantine_key'},
] -%}

with

ingest_quarantine as (
    select * from {{ ref('stg_ingest_audit__quarantine') }}
),

staging_quarantine as (
    select * from {{ ref('staging_quarantine') }}
),

unioned as (
    {%- for part in quarantine_sources %}
    {%- if not loop.first %}

    union all
    {%- endif %}

    select
        quarantine_id,
        {{ part.key }} as quarantine_key,
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
    from {{ part.cte }}
    {%- endfor %}
)

select * from unioned
