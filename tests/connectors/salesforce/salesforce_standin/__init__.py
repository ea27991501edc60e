"""Stand-ins for Salesforce, used only by tests. Salesforce itself cannot be reached from the tests.

- `rest_api.SalesforceRestStandin`: an `httpx.MockTransport` handler that
  answers with the shapes Salesforce documents for its REST API.
- `opencti_standin.html` / `opencti_standin.js`: a page that plays the
  Salesforce org hosting the softphone and implements the documented Open CTI
  surface (`sforce.opencti.*` and `sforce.interaction.*`), recording every call.
"""
