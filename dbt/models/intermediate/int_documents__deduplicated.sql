-- One document per identical text within a user (cross-posts, mirrors): the user's own writing
-- first, then the earliest published, then the URL. Never across users.

with

cleaned_documents as (

    select * from {{ ref('int_documents__cleaned') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by user_id, md5(text)
            order by is_own_writing desc, published_at nulls last, source_url
        ) as duplicate_rank

    from cleaned_documents

)

select * from ranked where duplicate_rank = 1
