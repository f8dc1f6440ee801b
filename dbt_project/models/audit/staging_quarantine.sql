{#-
    Rows the staging rules refused, one row per refused record with its single reason, in the
    columns of audit.quarantine (stage = 'staging'). Built from the same validated models the
    core reads, so a row is either in the core or here, never both and never neither.
-#}
{{ config(materialized='table') }}

{#- Each validated model's refused rows in one shape; location is where the record stands in its file.
    (content's item_index is the bare column, which SQLFluff would take for a self-alias in every part.) -#}
{%- set line_location = dbt.concat(["source_file", "' line '", "cast(source_line as " ~ dbt.type_string() ~ ")"]) -%}
{%- set refused_sources = [
    {'cte': 'users', 'item_index': 'cast(null as integer)', 'location': line_location},
    {'cte': 'content', 'item_index': 'item_index',
     'location': dbt.concat(["source_file", "' line '", "cast(source_line as " ~ dbt.type_string() ~ ")",
                             "' ('", "case when content_type = 'movie' then 'movies' else 'series' end",
                             "' item '", "cast(item_index as " ~ dbt.type_string() ~ ")", "')'"])},
    {'cte': 'sessions', 'item_index': 'cast(null as integer)', 'location': line_location},
] -%}

with

users as (
    select * from {{ ref('stg_streaming__users') }}
    where quarantine_reason is not null
),

content as (
    select * from {{ ref('int_content_validated') }}
    where quarantine_reason is not null
),

sessions as (
    select * from {{ ref('int_viewing_sessions_validated') }}
    where quarantine_reason is not null
),

refused as (
    {%- for part in refused_sources %}
    {%- if not loop.first %}

    union all
    {%- endif %}

    select
        batch_id,
        source_file,
        source_line,
        {{ part.item_index }} as item_index,  -- noqa: AL09
        {{ part.location }} as location,
        quarantine_reason,
        quarantine_field,
        quarantine_value,
        quarantine_detail,
        raw_text,
        loaded_at
    from {{ part.cte }}
    {%- endfor %}
),

final as (
    select
        cast(null as {{ dbt.type_bigint() }}) as quarantine_id,
        {{ dbt.concat(["'staging:'", "batch_id", "':'", "cast(source_line as " ~ dbt.type_string() ~ ")"]) }}
        as quarantine_key,
        batch_id,
        source_file,
        source_line,
        item_index,
        'staging' as stage,
        quarantine_reason as reason_code,
        quarantine_field as field,
        quarantine_value as value,
        {{ dbt.concat(["location", "': '", "quarantine_field", "' '''", "coalesce(quarantine_value, '')", "''' '",
                       "quarantine_detail", "' ['", "quarantine_reason", "']'"]) }} as message,
        raw_text,
        -- When the refused row was loaded: staging re-checks every row on each build, and a
        -- build time here would rewrite every row of this table on every run.
        loaded_at as detected_at
    from refused
)

select * from final
