{#- Row-local rules only, so a filter on load_id reaches the landing table's BRIN index through
    this view: duplicate ids (first occurrence in load order) are decided in
    int_viewing_sessions_validated, which can compare a new load with the rows validated before.
    A date after the batch's loaded_at is out_of_range: the export cannot hold the future.
    Compared with the lineage column, not now(), so a rebuild gives the same answer. -#}
{%- set quarantine_rules = [
    {'when': 'watch_minutes <= 0', 'reason': 'out_of_range', 'field': 'watch_duration_minutes',
     'value': 'watch_minutes', 'detail': sql_text('is not a positive number of minutes')},
    {'when': 'completion_percentage < 0 or completion_percentage > 100', 'reason': 'out_of_range',
     'field': 'completion_percentage', 'value': 'completion_percentage',
     'detail': sql_text('is outside 0-100')},
    {'when': 'device_type not in ' ~ sql_list(var('device_types')), 'reason': 'out_of_range',
     'field': 'device_type', 'value': 'device_type',
     'detail': sql_text('is not one of ' ~ var('device_types') | join(', '))},
    {'when': 'quality_level not in ' ~ sql_list(var('quality_levels')), 'reason': 'out_of_range',
     'field': 'quality_level', 'value': 'quality_level',
     'detail': sql_text('is not one of ' ~ var('quality_levels') | join(', '))},
    {'when': 'watch_date > cast(loaded_at as date)', 'reason': 'out_of_range', 'field': 'watch_date',
     'value': 'watch_date',
     'detail': dbt.concat(["'is after the batch was loaded at '", to_text('loaded_at')])},
] -%}

with

source as (
    select * from {{ source('streaming', 'viewing_sessions') }}
),

renamed as (
    select
        trim(session_id) as session_id,
        trim(user_id) as user_id,
        trim(content_id) as content_id,
        watch_date,
        watch_duration_minutes as watch_minutes,
        completion_percentage,
        {{ canonical_value('device_type', var('device_types')) }} as device_type,
        {{ canonical_value('quality_level', var('quality_levels')) }} as quality_level,
        {{ lineage_columns(from_landing=true) }},
        {{ raw_text_csv(['session_id', 'user_id', 'content_id', 'watch_date', 'watch_duration_minutes',
                         'completion_percentage', 'device_type', 'quality_level']) }} as raw_text
    from source
),

final as (
    select
        session_id,
        user_id,
        content_id,
        watch_date,
        watch_minutes,
        completion_percentage,
        device_type,
        quality_level,
        {{ quarantine_columns(quarantine_rules) }},
        {{ lineage_columns() }},
        raw_text
    from renamed
)

select * from final
