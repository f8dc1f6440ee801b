{#-
    Modelled subscription revenue of each active user-month, split across genres
    (grain user_id x revenue_month x genre).

    Rule: the month's price (plan_prices seed, in cents) is shared out in proportion to the
    minutes the user watched in each genre that month; a session on an item with n genres
    gives each of them watch_minutes / n, so a session's minutes are counted once in total and
    never fan out. Cents are allocated by the largest-remainder method: each genre gets the
    floor of its exact share, and the cents left over go one each to the genres with the
    largest fractional parts (ties: genre name). The cents of a user-month therefore add up to
    its price exactly, and genre revenue adds up to total revenue exactly.
    Exact shares are rounded to 6 decimals before flooring: within one user-month all shares
    are multiples of 1 / (total minutes x lcm of genre counts), far coarser than 1e-6, so this
    only removes decimal noise from the division (3 x 10/3 floors to 10, not 9).
-#}
-- A table, not a view: several models and tests read it, so it is computed once.
-- Incremental by month: a user-month's allocation depends on that user-month's sessions only,
-- so a build recomputes the months from the earliest one this run's new sessions fall in
-- (delete+insert on revenue_month; insert_overwrite of month partitions on dbt-spark).
-- depends_on: {{ ref('int_viewing_sessions_validated') }}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **replace_by_key('revenue_month'),
    )
}}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
    {%- if is_incremental() %}
    where watch_date >= {{ first_month_written_this_run() }}
    {%- endif %}
),

users as (
    select * from {{ ref('users') }}
),

content_genres as (
    select * from {{ ref('content_genres') }}
),

plan_prices as (
    select * from {{ ref('plan_prices') }}
),

genre_counts as (
    select
        content_id,
        count(*) as genre_count
    from content_genres
    group by content_id
),

-- Grouped on the narrow key (user, month, genre) straight from the core sessions; the user's
-- country and plan depend on user_id alone and are joined to the ~10x smaller result.
user_month_genres as (
    select
        sessions.user_id,
        {{ month_start('sessions.watch_date') }} as activity_month,
        content_genres.genre,
        sum(
            cast(sessions.watch_minutes as {{ dbt.type_numeric() }})
            / cast(genre_counts.genre_count as {{ dbt.type_numeric() }})
        ) as attributed_watch_minutes
    from sessions
    inner join content_genres
        on sessions.content_id = content_genres.content_id
    inner join genre_counts
        on sessions.content_id = genre_counts.content_id
    group by
        sessions.user_id,
        {{ month_start('sessions.watch_date') }},
        content_genres.genre
),

priced as (
    select
        user_month_genres.user_id,
        user_month_genres.activity_month,
        user_month_genres.genre,
        users.country,
        users.subscription_type,
        user_month_genres.attributed_watch_minutes,
        cast(round(plan_prices.monthly_price_usd * 100, 0) as {{ dbt.type_bigint() }}) as price_cents
    from user_month_genres
    inner join users
        on user_month_genres.user_id = users.user_id
    inner join plan_prices
        on users.subscription_type = plan_prices.subscription_type
),

exact_shares as (
    select
        *,
        round(
            cast(price_cents as {{ dbt.type_numeric() }})
            * attributed_watch_minutes
            / sum(attributed_watch_minutes) over (partition by user_id, activity_month),
            6
        ) as exact_share_cents
    from priced
),

-- Floors as integers (a share is at most the price in cents), so the leftover below is an
-- integer sum rather than a numeric one.
floored as (
    select
        *,
        cast(floor(exact_share_cents) as {{ dbt.type_int() }}) as floor_cents,
        exact_share_cents - floor(exact_share_cents) as fractional_cents
    from exact_shares
),

ranked as (
    select
        *,
        price_cents - sum(floor_cents) over (partition by user_id, activity_month) as leftover_cents,
        row_number() over (
            partition by user_id, activity_month
            order by fractional_cents desc nulls last, genre asc
        ) as remainder_rank
    from floored
),

final as (
    select
        user_id,
        activity_month as revenue_month,
        genre,
        country,
        subscription_type,
        attributed_watch_minutes,
        price_cents,
        cast(floor_cents as {{ dbt.type_bigint() }})
        + case when remainder_rank <= leftover_cents then 1 else 0 end as revenue_cents
    from ranked
)

select * from final
