{#-
    The MongoDB user_analytics documents, one row per valid user (grain user_id), the document's
    scalar fields as columns. A user without sessions has zero counts and null dates and mean.
    The document's breakdowns are sync_mongo_user_breakdowns (device, quality) and
    sync_mongo_user_activity (months).
-#}
with

users as (
    select * from {{ ref('users') }}
),

device_quality as (
    select * from {{ ref('int_user_sessions_by_device_quality') }}
),

user_months as (
    select * from {{ ref('int_user_months_active') }}
),

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

engagement as (
    select
        user_id,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage,
        min(first_watch_date) as first_watch_date,
        max(last_watch_date) as last_watch_date
    from device_quality
    group by user_id
),

active_months as (
    select
        user_id,
        count(*) as active_month_count
    from user_months
    group by user_id
),

-- Two hash aggregations instead of count(distinct content_id), which sorts the whole log.
user_titles as (
    select
        user_id,
        content_id
    from sessions
    group by
        user_id,
        content_id
),

distinct_titles as (
    select
        user_id,
        count(*) as distinct_content_count
    from user_titles
    group by user_id
),

banded as (
    select
        user_id,
        age,
        {{ age_band('age') }} as age_band,
        country,
        subscription_type,
        registration_date,
        lifetime_watch_hours
    from users
),

-- Users without sessions get zero counts and sums (null dates and mean).
joined as (
    select
        banded.user_id,
        banded.age,
        banded.age_band,
        banded.country,
        banded.subscription_type,
        banded.registration_date,
        banded.lifetime_watch_hours,
        coalesce(engagement.session_count, 0) as session_count,
        coalesce(engagement.total_watch_minutes, 0) as total_watch_minutes,
        coalesce(engagement.sum_completion_percentage, 0) as sum_completion_percentage,
        engagement.first_watch_date,
        engagement.last_watch_date,
        coalesce(distinct_titles.distinct_content_count, 0) as distinct_content_count,
        coalesce(active_months.active_month_count, 0) as active_month_count
    from banded
    left join engagement
        on banded.user_id = engagement.user_id
    left join distinct_titles
        on banded.user_id = distinct_titles.user_id
    left join active_months
        on banded.user_id = active_months.user_id
),

final as (
    select
        user_id,
        age,
        age_band,
        country,
        subscription_type,
        {{ dbt.concat([
            'age_band', "'|'", 'subscription_type', "'|'", 'country',
        ]) }} as segment,
        registration_date,
        cast(lifetime_watch_hours as {{ dbt.type_float() }}) as lifetime_watch_hours,
        cast(session_count as {{ dbt.type_bigint() }}) as session_count,
        cast(total_watch_minutes as {{ dbt.type_bigint() }}) as total_watch_minutes,
        cast(sum_completion_percentage as {{ dbt.type_float() }}) as sum_completion_percentage,
        cast(sum_completion_percentage as {{ dbt.type_float() }})
        / cast(nullif(session_count, 0) as {{ dbt.type_float() }})
        as mean_completion_percentage,
        first_watch_date,
        last_watch_date,
        cast(distinct_content_count as {{ dbt.type_bigint() }}) as distinct_content_count,
        cast(active_month_count as {{ dbt.type_bigint() }}) as active_month_count
    from joined
)

select * from final
