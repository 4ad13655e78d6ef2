-- The clean, current documents of every user: what chunks and training samples are built from.

with

deduplicated_documents as (

    select * from {{ ref('int_documents__deduplicated') }}

),

final as (

    select
        ---------- ids
        md5(user_id::text || '|' || source_url) as document_id,
        user_id,
        document_version_id,

        ---------- text
        source_url,
        title,
        platform,
        kind,
        text,

        ---------- numerics
        {{ text_function('token_estimate') }}(text) as token_estimate,

        ---------- booleans
        is_own_writing,

        ---------- timestamps
        published_at,
        fetched_at

    from deduplicated_documents

)

select * from final
