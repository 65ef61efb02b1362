// Which parts of the relay's API this console version uses. A part is switched on here when
// its API has landed in the relay (docs/api.md); until then its navigation is hidden, so the
// console never calls an endpoint the relay does not have.
export const FEATURES = {
  cas: true,
  templates: true,
  requests: true,
  certificates: true,
  acme: true,
  appliances: true,
};
