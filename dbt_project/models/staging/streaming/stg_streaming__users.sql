{#- A date after the batch's loaded_at is out_of_range: the export cannot hold the future.
    Compared with the lineage column, not now(), so a rebuild gives the same answer. -#}
{%- set quarantine_rules = [
    {'when': 'occurrence_number > 1', 'reason': 'duplicate_id', 'field': 'user_id', 'value': 'user_id',
     'detail': duplicate_detail('user_id')},
    {'when': 'age < ' ~ var('min_user_age') ~ ' or age > ' ~ var('max_user_age'),
     'reason': 'out_of_range', 'field': 'age', 'value': 'age',
     'detail': sql_text('is outside ' ~ var('min_user_age') ~ '-' ~ var('max_user_age'))},
    {'when': 'subscription_type not in ' ~ sql_list(var('subscription_types')),
     'reason': 'out_of_range', 'field': 'subscription_type', 'value': 'subscription_type',
     'detail': sql_text('is not one of ' ~ var('subscription_types') | join(', '))},
    {'when': 'lifetime_watch_hours < 0 or lifetime_watch_hours > ' ~ var('max_lifetime_watch_hours'),
     'reason': 'out_of_range', 'field': 'total_watch_time_hours', 'value': 'lifetime_watch_hours',
     'detail': sql_text('is outside 0-' ~ var('max_lifetime_watch_hours') ~ ' (hours in ' ~ var('max_user_age') ~ ' years)')},
    {'when': 'registration_date > cast(loaded_at as date)', 'reason': 'out_of_range',
     'field': 'registration_date', 'value': 'registration_date',
     'detail': dbt.concat(["'is after the batch was loaded at '", to_text('loaded_at')])},
] -%}

with

source as (
    select * from {{ source('streaming', 'users') }}
),

renamed as (
    select
        trim(user_id) as user_id,
        age,
        {{ canonical_value('country', var('countries')) }} as country,
        {{ canonical_value('subscription_type', var('subscription_types')) }} as subscription_type,
        registration_date,
        total_watch_time_hours as lifetime_watch_hours,
        {{ lineage_columns(from_landing=true) }},
        {{ raw_text_csv(['user_id', 'age', 'country', 'subscription_type', 'registration_date',
                         'total_watch_time_hours']) }} as raw_text
    from source
),

occurrences as (
    select
        *,
        {{ first_occurrence_columns('user_id') }}
    from renamed
),

final as (
    select
        user_id,
        age,
        country,
        subscription_type,
        registration_date,
        lifetime_watch_hours,
        {{ quarantine_columns(quarantine_rules) }},
        {{ lineage_columns() }},
        raw_text
    from occurrences
)

select * from final
