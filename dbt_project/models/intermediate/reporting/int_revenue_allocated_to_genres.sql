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
    Integer arithmetic, exact: minutes are counted in units of 1 / k, k a common multiple of
    the genre counts, so a session's share of a genre (watch_minutes x k / n) is a whole
    number; a genre's cents are then price x units / the user-month's units, an integer
    quotient and remainder, and the remainders rank the leftover cents (one denominator per
    user-month, so ordering remainders is ordering fractional parts). Numeric division happens
    once per row, for attributed_watch_minutes (units / k).
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

distinct_genre_counts as (
    select distinct genre_count
    from genre_counts
),

-- k: the product of the distinct genre counts (1 x 2 x 3 = 6 on the course data), a multiple of
-- every count, so watch_minutes x k / genre_count is exact in integers. exp(sum(ln)) is a
-- product in standard SQL; round() removes the float noise from an integer result.
units_per_minute as (
    select
        cast(round(exp(sum(ln(cast(genre_count as {{ dbt.type_float() }}))))) as {{ dbt.type_bigint() }})
        as units
    from distinct_genre_counts
),

item_genre_units as (
    select
        content_genres.content_id,
        content_genres.genre,
        cast(units_per_minute.units / genre_counts.genre_count as {{ dbt.type_bigint() }}) as units_per_minute
    from content_genres
    inner join genre_counts
        on content_genres.content_id = genre_counts.content_id
    cross join units_per_minute
),

-- Grouped on the narrow key (user, month, genre) straight from the core sessions; the user's
-- country and plan depend on user_id alone and are joined to the ~10x smaller result.
user_month_genres as (
    select
        sessions.user_id,
        {{ month_start('sessions.watch_date') }} as activity_month,
        item_genre_units.genre,
        cast(
            sum(sessions.watch_minutes * item_genre_units.units_per_minute) as {{ dbt.type_bigint() }}
        ) as attributed_units
    from sessions
    inner join item_genre_units
        on sessions.content_id = item_genre_units.content_id
    group by
        sessions.user_id,
        {{ month_start('sessions.watch_date') }},
        item_genre_units.genre
),

priced as (
    select
        user_month_genres.user_id,
        user_month_genres.activity_month,
        user_month_genres.genre,
        users.country,
        users.subscription_type,
        user_month_genres.attributed_units,
        cast(round(plan_prices.monthly_price_usd * 100, 0) as {{ dbt.type_bigint() }}) as price_cents
    from user_month_genres
    inner join users
        on user_month_genres.user_id = users.user_id
    inner join plan_prices
        on users.subscription_type = plan_prices.subscription_type
),

-- The window sums are cast back to integers: a sum of bigints is numeric on PostgreSQL, and
-- every remainder, quotient and rank below would otherwise be numeric arithmetic per row.
with_month_units as (
    select
        *,
        cast(
            sum(attributed_units) over (partition by user_id, activity_month) as {{ dbt.type_bigint() }}
        ) as month_units
    from priced
),

-- A genre's exact share is price_cents x units / month_units: its floor and remainder (over
-- month_units) in integers.
shares as (
    select
        *,
        mod(price_cents * attributed_units, month_units) as remainder_units
    from with_month_units
),

floored as (
    select
        *,
        cast((price_cents * attributed_units - remainder_units) / month_units as {{ dbt.type_bigint() }})
        as floor_cents
    from shares
),

ranked as (
    select
        *,
        price_cents
        - cast(sum(floor_cents) over (partition by user_id, activity_month) as {{ dbt.type_bigint() }})
        as leftover_cents,
        row_number() over (
            partition by user_id, activity_month
            order by remainder_units desc nulls last, genre asc
        ) as remainder_rank
    from floored
),

final as (
    select
        ranked.user_id,
        ranked.activity_month as revenue_month,
        ranked.genre,
        ranked.country,
        ranked.subscription_type,
        cast(ranked.attributed_units as {{ dbt.type_numeric() }})
        / cast(units_per_minute.units as {{ dbt.type_numeric() }}) as attributed_watch_minutes,
        ranked.price_cents,
        ranked.floor_cents + case when ranked.remainder_rank <= ranked.leftover_cents then 1 else 0 end
        as revenue_cents
    from ranked
    cross join units_per_minute
)

select * from final
