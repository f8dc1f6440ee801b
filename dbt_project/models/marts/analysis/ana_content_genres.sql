{#- Every title's genres (grain content_id x genre): the genre covariates of the popularity models. -#}
with

content_genres as (
    select * from {{ ref('content_genres') }}
),

final as (
    select
        content_id,
        genre
    from content_genres
)

select * from final
