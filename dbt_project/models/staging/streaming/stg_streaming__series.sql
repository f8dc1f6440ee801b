{#-
    Duplicate content ids (across movies and series) and the seasons list are checked in
    int_content_validated, which sees the other sources.
-#}
{%- set quarantine_rules = [
    {'when': 'season_count < 1', 'reason': 'out_of_range', 'field': 'seasons', 'value': 'season_count',
     'detail': sql_text('is not a positive number of seasons')},
    {'when': 'content_length_minutes <= 0', 'reason': 'out_of_range', 'field': 'avg_episode_duration',
     'value': 'content_length_minutes', 'detail': sql_text('is not a positive number of minutes')},
    {'when': 'rating < ' ~ var('min_rating') ~ ' or rating > ' ~ var('max_rating'),
     'reason': 'out_of_range', 'field': 'rating', 'value': 'rating',
     'detail': sql_text('is outside ' ~ var('min_rating') ~ '-' ~ var('max_rating'))},
    {'when': 'views < 0', 'reason': 'out_of_range', 'field': 'total_views', 'value': 'views',
     'detail': sql_text('is negative')},
    {'when': 'production_budget < 0', 'reason': 'out_of_range', 'field': 'production_budget',
     'value': 'production_budget', 'detail': sql_text('is negative')},
] -%}

with

source as (
    select * from {{ source('streaming', 'series') }}
),

renamed as (
    select
        trim(content_id) as content_id,
        'series' as content_type,
        trim(title) as title,
        seasons as season_count,
        avg_episode_duration as content_length_minutes,
        rating,
        total_views as views,
        production_budget,
        _item_index as item_index,
        {{ lineage_columns(from_landing=true) }},
        {{ raw_text_json(['content_id', 'title', 'seasons', 'avg_episode_duration', 'rating',
                          'total_views', 'production_budget'], ['content_id', 'title']) }} as raw_text
    from source
),

final as (
    select
        content_id,
        content_type,
        title,
        season_count,
        content_length_minutes,
        rating,
        views,
        production_budget,
        {{ quarantine_columns(quarantine_rules) }},
        item_index,
        {{ lineage_columns() }},
        raw_text
    from renamed
)

select * from final
