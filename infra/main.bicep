// ServerlessMemory on Azure: one resource group holding a Flex Consumption function app, a
// serverless Cosmos DB account with vector and full-text search, Azure OpenAI deployments, storage
// and Application Insights. Every service is reached with Microsoft Entra ID through one
// user-assigned managed identity: no key, no connection string, no secret anywhere.
// Deploy with `azd up`, or `az deployment sub create --location <region> --template-file infra/main.bicep
// --parameters environmentName=<name> location=<region> principalId=$(az ad signed-in-user show --query id -o tsv)`.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer Flex Consumption and the chosen Azure OpenAI models.')
param location string

@description('Object id of the deploying user or service principal: it gets the same data roles as the app, so local runs against the cloud work. Leave empty to skip.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
@description('Kind of principalId.')
param principalType string = 'User'

@description('Chat model deployment (Model__ChatModel).')
param chatModelName string = 'gpt-4.1'

@description('Version of the chat model.')
param chatModelVersion string = '2025-04-14'

@description('Capacity of the chat deployment, in thousands of tokens per minute.')
param chatModelCapacity int = 30

@description('Small model that extracts memories (Model__ExtractionModel).')
param extractionModelName string = 'gpt-4.1-mini'

@description('Version of the extraction model.')
param extractionModelVersion string = '2025-04-14'

@description('Capacity of the extraction deployment, in thousands of tokens per minute.')
param extractionModelCapacity int = 30

@description('Embedding model deployment (Model__EmbeddingModel).')
param embeddingModelName string = 'text-embedding-3-small'

@description('Version of the embedding model.')
param embeddingModelVersion string = '1'

@description('Capacity of the embedding deployment, in thousands of tokens per minute.')
param embeddingModelCapacity int = 30

@description('Dimensions of the embeddings; the container\'s vector policy and Model__EmbeddingDimensions both use it.')
param embeddingDimensions int = 1536

@description('Deployment type of the model deployments.')
param modelSkuName string = 'GlobalStandard'

@description('NCRONTAB schedule of the DecaySweep timer (Decay__Schedule).')
param decaySchedule string = '0 0 * * * *'

@description('Most instances the function app scales out to.')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
@description('Memory of one function app instance, in MB.')
param instanceMemoryMB int = 2048

// The container's names and policy are those of ServerlessMemory.Cosmos.MemoryContainer (a test compares them).
var cosmosDatabaseName = 'serverless-memory'
var cosmosContainerName = 'memory'

var tags = {
  'azd-env-name': environmentName
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var functionAppName = 'func-api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module cosmos 'app/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    accountName: 'cosmos-${resourceToken}'
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
    containerName: cosmosContainerName
    embeddingDimensions: embeddingDimensions
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module openAi 'app/openai.bicep' = {
  name: 'openai'
  scope: rg
  params: {
    name: 'oai-${resourceToken}'
    location: location
    tags: tags
    skuName: modelSkuName
    chatModel: {
      name: chatModelName
      version: chatModelVersion
      capacity: chatModelCapacity
    }
    extractionModel: {
      name: extractionModelName
      version: extractionModelVersion
      capacity: extractionModelCapacity
    }
    embeddingModel: {
      name: embeddingModelName
      version: embeddingModelVersion
      capacity: embeddingModelCapacity
    }
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainerName}'
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: {
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identity.outputs.clientId
      AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
      AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
      AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
      // Not a secret: Application Insights has local auth disabled, so ingestion needs the identity below.
      APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.applicationInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
      AZURE_CLIENT_ID: identity.outputs.clientId
      Memory__Store: 'Cosmos'
      Cosmos__Endpoint: cosmos.outputs.endpoint
      Cosmos__Database: cosmosDatabaseName
      Cosmos__Container: cosmosContainerName
      Model__Provider: 'AzureOpenAI'
      Model__Endpoint: openAi.outputs.endpoint
      Model__ChatModel: openAi.outputs.chatDeploymentName
      Model__ExtractionModel: openAi.outputs.extractionDeploymentName
      Model__EmbeddingModel: openAi.outputs.embeddingDeploymentName
      Model__EmbeddingDimensions: string(embeddingDimensions)
      Decay__Schedule: decaySchedule
    }
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_USER_ASSIGNED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_ENDPOINT string = api.outputs.uri
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output COSMOS_DATABASE string = cosmosDatabaseName
output COSMOS_CONTAINER string = cosmosContainerName
output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output AZURE_OPENAI_CHAT_DEPLOYMENT string = openAi.outputs.chatDeploymentName
output AZURE_OPENAI_EXTRACTION_DEPLOYMENT string = openAi.outputs.extractionDeploymentName
output AZURE_OPENAI_EMBEDDING_DEPLOYMENT string = openAi.outputs.embeddingDeploymentName
output AZURE_OPENAI_EMBEDDING_DIMENSIONS int = embeddingDimensions
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
