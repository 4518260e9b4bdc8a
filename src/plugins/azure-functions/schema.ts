/** azure-functions config (kong/plugins/azure-functions/schema.lua). */
import type { PluginSchema } from '../schemas.ts'
import { typedefs } from '../../db/schema/typedefs.ts'

export const schema: PluginSchema = {
  fields: {
    protocols: typedefs.protocols,
    config: {
      type: 'record',
      fields: {
        timeout: { type: 'number', default: 600000, description: 'Timeout in milliseconds before closing a connection to the Azure Functions server.' },
        keepalive: { type: 'number', default: 60000, description: 'Time in milliseconds during which an idle connection to the Azure Functions server lives before being closed.' },
        https: { type: 'boolean', default: true, description: 'Use of HTTPS to connect with the Azure Functions server.' },
        https_verify: { type: 'boolean', default: false, description: 'Set to `true` to authenticate the Azure Functions server.' },
        apikey: { type: 'string', encrypted: true, referenceable: true, description: 'The apikey to access the Azure resources. If provided, it is injected as the `x-functions-key` header.' },
        clientid: { type: 'string', encrypted: true, referenceable: true, description: 'The `clientid` to access the Azure resources. If provided, it is injected as the `x-functions-clientid` header.' },
        appname: { type: 'string', required: true, description: 'The Azure app name.' },
        hostdomain: { type: 'string', required: true, default: 'azurewebsites.net', description: 'The domain where the function resides.' },
        routeprefix: { type: 'string', default: 'api', description: 'Route prefix to use.' },
        functionname: { type: 'string', required: true, description: 'Name of the Azure function to invoke.' },
      },
    },
  },
}
