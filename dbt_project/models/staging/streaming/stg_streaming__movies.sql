{#- Duplicate content ids are ranked across movies and series together, in int_content_validated. -#}
{%- set quarantine_rules = [
    {'when': 'content_length_minutes <= 0', 'reason': 'out_of_range', 'field': 'duration_minutes',
     'value': 'content_length_minutes', 'detail': sql_text('is not a positive number of minutes')},
    {'when': 'rating < ' ~ var('min_rating') ~ ' or rating > ' ~ var('max_rating'),
     'reason': 'out_of_range', 'field': 'rating', 'value': 'rating',
     'detail': sql_text('is outside ' ~ var('min_rating') ~ '-' ~ var('max_rating'))},
    {'when': 'views < 0', 'reason': 'out_of_range', 'field': 'views_count', 'value': 'views',
     'detail': sql_text('is negative')},
    {'when': 'production_budget < 0', 'reason': 'out_of_range', 'field': 'production_budget',
     'value': 'production_budget', 'detail': sql_text('is negative')},
] -%}

with

source as (
    select * from {{ source('streaming', 'movies') }}
),

renamed as (
    select
        trim(content_id) as content_id,
        'movie' as content_type,
        trim(title) as title,
        duration_minutes as content_length_minutes,
        release_year,
        rating,
        views_count as views,
        production_budget,
        _item_index as item_index,
        {{ lineage_columns(from_landing=true) }},
        {{ raw_text_json(['content_id', 'title', 'duration_minutes', 'release_year', 'rating',
                          'views_count', 'production_budget'], ['content_id', 'title']) }} as raw_text
    from source
),

final as (
    select
        content_id,
        content_type,
        title,
        content_length_minutes,
        release_year,
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
