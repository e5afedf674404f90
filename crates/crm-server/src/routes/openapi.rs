//! The error answers every operation shares, defined once in the OpenAPI
//! document's `components.responses` and referenced from each operation
//! according to what it can meet: any operation can answer 500; an
//! authenticated operation can answer 401,
//! 403 and 429; one with path or query parameters 400; one with a path
//! parameter 404; one with a body 400, 413, 415 and 422; one with a `cursor`
//! 422. Operations keep their
//! own entry where it says something specific (e.g. "409 duplicate_lead").

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder,
};

struct Shared {
    status: &'static str,
    name: &'static str,
    description: &'static str,
}

const BAD_REQUEST: Shared = Shared {
    status: "400",
    name: "BadRequest",
    description: "The request cannot be read: `invalid_path` (a malformed id in the path), \
`invalid_query` (a query parameter of the wrong type or out of its bounds) or `invalid_json` \
(a body that is not JSON).",
};
const UNAUTHORIZED: Shared = Shared {
    status: "401",
    name: "Unauthorized",
    description: "`unauthenticated`: no session cookie or API token, or one that has expired or \
was revoked.",
};
const FORBIDDEN: Shared = Shared {
    status: "403",
    name: "Forbidden",
    description: "`forbidden`: the caller's role does not allow this; or \
`csrf_token_invalid`: a cookie-authenticated change without the session's `X-CSRF-Token`.",
};
const NOT_FOUND: Shared = Shared {
    status: "404",
    name: "NotFound",
    description: "`not_found`: no such resource in the caller's tenant (or not visible to the \
caller: a seller sees only their own leads).",
};
const PAYLOAD_TOO_LARGE: Shared = Shared {
    status: "413",
    name: "PayloadTooLarge",
    description: "`payload_too_large`: the body exceeds `CRM_BODY_LIMIT_BYTES` (uploads: \
`CRM_UPLOAD_LIMIT_BYTES`).",
};
const UNSUPPORTED_MEDIA_TYPE: Shared = Shared {
    status: "415",
    name: "UnsupportedMediaType",
    description: "`unsupported_media_type`: the body is not sent as `application/json` (or, for \
uploads, `multipart/form-data` or `text/csv`).",
};
const UNPROCESSABLE: Shared = Shared {
    status: "422",
    name: "UnprocessableEntity",
    description: "The input is well-formed but not valid: `invalid_body` (a field of the wrong \
type or a missing required field) or a rule-specific code named in `message`, with \
`details` where it helps; `invalid_cursor` for a `cursor` the server did not hand out.",
};
const TOO_MANY_REQUESTS: Shared = Shared {
    status: "429",
    name: "TooManyRequests",
    description: "`rate_limited`: the credential's request rate is over its limit; retry after \
the number of seconds in `Retry-After`.",
};

const INTERNAL: Shared = Shared {
    status: "500",
    name: "InternalError",
    description: "`internal_error`: the server failed (a database outage, a bug). `details.request_id` \
identifies the request in the server's log; quote it when reporting the problem.",
};

const ALL: [&Shared; 9] = [
    &BAD_REQUEST,
    &UNAUTHORIZED,
    &FORBIDDEN,
    &NOT_FOUND,
    &PAYLOAD_TOO_LARGE,
    &UNSUPPORTED_MEDIA_TYPE,
    &UNPROCESSABLE,
    &TOO_MANY_REQUESTS,
    &INTERNAL,
];

fn component(shared: &Shared) -> Response {
    let json = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let mut builder = ResponseBuilder::new()
        .description(shared.description)
        .content("application/json", json);
    if shared.status == "429" {
        builder = builder.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some("seconds to wait before retrying"))
                .build(),
        );
    }
    builder.build()
}

/// Adds the shared error answers to the document and to every operation.
pub fn add_shared_responses(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for shared in ALL {
        components
            .responses
            .insert(shared.name.to_owned(), RefOr::T(component(shared)));
    }
    for item in doc.paths.paths.values_mut() {
        let shared_params = item.parameters.clone().unwrap_or_default();
        let ops = [
            &mut item.get,
            &mut item.head,
            &mut item.options,
            &mut item.delete,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            annotate(op, &shared_params);
        }
    }
}

fn annotate(op: &mut Operation, shared_params: &[utoipa::openapi::path::Parameter]) {
    // `security: [{}]` (an empty requirement) marks a public operation; none
    // means the document-wide requirement (a session or an API token).
    let authenticated = match &op.security {
        None => true,
        Some(reqs) => !reqs.is_empty() && !reqs.iter().any(is_empty_requirement),
    };
    let params = op
        .parameters
        .iter()
        .flatten()
        .chain(shared_params.iter())
        .map(|p| p.parameter_in.clone())
        .collect::<Vec<_>>();
    let has_path = params.iter().any(|p| matches!(p, ParameterIn::Path));
    let has_query = params.iter().any(|p| matches!(p, ParameterIn::Query));
    let has_body = op.request_body.is_some();
    // A cursor the server did not hand out is answered 422 `invalid_cursor`.
    let has_cursor = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query) && p.name == "cursor");

    let mut wanted: Vec<&Shared> = vec![&INTERNAL];
    if has_path || has_query || has_body {
        wanted.push(&BAD_REQUEST);
    }
    if authenticated {
        wanted.extend([&UNAUTHORIZED, &FORBIDDEN, &TOO_MANY_REQUESTS]);
    }
    if has_path {
        wanted.push(&NOT_FOUND);
    }
    if has_body {
        wanted.extend([&PAYLOAD_TOO_LARGE, &UNSUPPORTED_MEDIA_TYPE, &UNPROCESSABLE]);
    } else if has_cursor {
        wanted.push(&UNPROCESSABLE);
    }
    for shared in wanted {
        let entry = op.responses.responses.get(shared.status);
        let generic = match entry {
            None => true,
            Some(RefOr::T(r)) => r.description.is_empty(),
            Some(RefOr::Ref(_)) => false,
        };
        if generic {
            op.responses.responses.insert(
                shared.status.to_owned(),
                RefOr::Ref(Ref::from_response_name(shared.name)),
            );
        }
    }
}

fn is_empty_requirement(req: &utoipa::openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(req)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.is_empty()))
        .unwrap_or(false)
}
