-- Latest versions with clean text: unicode and whitespace normalised, leftover HTML and markdown
-- noise removed (code keeps its characters and indentation; so do indented lines of plain-text and
-- markdown prose, e.g. code pasted into a post; HTML's whitespace collapses as a browser's does), a
-- first line that only repeats the title removed, near-empty documents dropped.

with

latest_documents as (

    select * from {{ ref('int_documents__latest') }}

),

normalised as (

    select
        document_version_id,
        user_id,
        platform,
        kind,
        source_url,
        nullif({{ normalise_prose_whitespace(strip_invisible("normalize(coalesce(title, ''), NFKC)")) }}, '') as title,
        case
            when kind = 'repository_file' then
                {{ normalise_code_whitespace(strip_invisible(unify_line_endings("normalize(content, NFC)"))) }}
            when {{ looks_like_html('content') }} then
                {{ normalise_html_whitespace(strip_markdown(strip_html(strip_invisible(unify_line_endings("normalize(content, NFKC)"))))) }}
            else
                {{ normalise_prose_whitespace(strip_markdown(strip_html(strip_invisible(unify_line_endings("normalize(content, NFKC)"))))) }}
        end as text,
        is_own_writing,
        published_at,
        fetched_at

    from latest_documents

),

cleaned as (

    select
        document_version_id,
        user_id,
        platform,
        kind,
        source_url,
        title,
        case
            when kind <> 'repository_file' and title is not null and starts_with(text, title || E'\n')
                then ltrim(substr(text, char_length(title) + 1), E'\n ')
            else text
        end as text,
        is_own_writing,
        published_at,
        fetched_at

    from normalised

)

select * from cleaned
where {{ meaningful_length('text') }} >= {{ var('min_document_chars') }}
