{{
    config(
        materialized='incremental',
        unique_key='chunk_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        indexes=[
            {'columns': ['chunk_id'], 'unique': True},
            {'columns': ['user_id', 'document_id']},
            {'columns': ['search_vector'], 'type': 'gin'},
        ],
        post_hook=[
            "delete from {{ this }} as chunk where not exists (
                select 1 from {{ ref('documents') }} as document
                where document.document_id = chunk.document_id
                  and {{ chunking_fingerprint('document') }} = chunk.chunking_fingerprint)"
        ],
    )
}}

-- Retrieval units. Incremental: a document is (re)chunked only when its chunking fingerprint
-- (clean text, title, date, chunking settings) has no chunks yet; a chunk whose text is unchanged
-- keeps its id (and so its embedding), and the post-hook removes chunks of fingerprints that are
-- no longer current (changed, deduplicated or deleted documents).

with

documents as (

    select * from {{ ref('documents') }} as document
    {% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as chunk
        where chunk.document_id = document.document_id
          and chunk.chunking_fingerprint = {{ chunking_fingerprint('document') }}
    )
    {% endif %}

),

pieces as (

    select
        documents.*,
        {{ chunking_fingerprint('documents') }} as chunking_fingerprint,
        piece.chunk_position,
        piece.chunk_text,
        -- a text repeated within one document is one chunk
        row_number() over (
            partition by documents.document_id, piece.chunk_text order by piece.chunk_position
        ) as repeat_rank

    from documents
    cross join lateral {{ text_function('chunk_text') }}(
        documents.text, documents.kind, {{ var('chunk_max_tokens') }}, {{ var('chunk_overlap_tokens') }}
    ) as piece

),

final as (

    select
        ---------- ids
        md5(document_id || '|' || chunk_text) as chunk_id,
        document_id,
        document_version_id,
        user_id,
        chunking_fingerprint,

        ---------- text
        platform,
        kind,
        chunk_text as text,
        title,
        source_url,
        setweight(to_tsvector('english', coalesce(title, '')), 'A')
            || setweight(to_tsvector('english', chunk_text), 'B') as search_vector,

        ---------- numerics
        (row_number() over (partition by document_id order by chunk_position) - 1)::integer as position,
        {{ text_function('token_estimate') }}(chunk_text) as token_estimate,

        ---------- booleans
        is_own_writing,

        ---------- timestamps
        published_at,
        now() as chunked_at

    from pieces
    where repeat_rank = 1

)

select * from final
