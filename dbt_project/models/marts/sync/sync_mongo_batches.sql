{#-
    The loaded batches (files) behind the MongoDB documents (grain source_name x batch_id), with
    the rows of each the core holds. The publish records them with what it published: a later
    publish rewrites only the documents of session batches that arrived since, and everything
    when any other batch came, went or changed its row count (mongo/publish.py).
-#}
with

users as (
    select * from {{ ref('users') }}
),

content as (
    select * from {{ ref('content') }}
),

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

batches as (
    select
        'users' as source_name,
        batch_id,
        count(*) as row_count
    from users
    group by batch_id

    union all

    select
        'content' as source_name,
        batch_id,
        count(*) as row_count
    from content
    group by batch_id

    union all

    select
        'viewing_sessions' as source_name,
        batch_id,
        count(*) as row_count
    from sessions
    group by batch_id
),

final as (
    select
        source_name,
        batch_id,
        cast(row_count as {{ dbt.type_bigint() }}) as row_count
    from batches
)

select * from final
